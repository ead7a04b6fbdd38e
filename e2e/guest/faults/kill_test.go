//go:build lab

package faults

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
)

// TestKillDuringColdSync kills `ipvsd standalone` with SIGKILL at random
// moments of a cold sync of 10,000 NAT services x 10 backends, five times
// in a row, then starts it once more and lets it finish. After each kill
// the kernel may hold part of the table, but nothing wrong, nothing of
// ours the record does not name (the record is written before what it
// names is created), and the foreign virtual servers as they were; after
// the clean start the table is exactly the desired one and the record
// names exactly it.
//
// The kill moments are fractions of the sync still to do, drawn from a
// seeded generator (FAULTS_SEED replays a run): the test counts our
// virtual servers while the daemon runs and kills it once the count
// passes the drawn fraction, so the moments fall inside the sync however
// fast the emulated CPU is today. A fraction near 0 kills the daemon while
// it starts up, before it has created anything.
func TestKillDuringColdSync(t *testing.T) {
	setup(t)
	cfg := desiredConfig{services: envInt(t, "FAULTS_SERVICES", 10000), backends: 10}
	kills := envInt(t, "FAULTS_KILLS", 5)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FAULTS_SEED: %v", err)
		}
	}
	t.Logf("seed %d (FAULTS_SEED=%d replays these kill moments)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	foreignIDs, foreignLines := addForeign(t)
	path := writeConfig(t, cfg)
	want := cfg.want()
	h, err := mobyipvs.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	var moments []string
	bad := 0
	for i := 1; i <= kills; i++ {
		before := countOurs(t, h, len(foreignIDs))
		frac := rng.Float64()
		target := before + int(frac*float64(cfg.services-before))
		d := startDaemon(t, path)
		after := waitCreated(t, h, d, cfg, target)
		d.kill(t)
		t.Logf("kill %d: the daemon's log:\n%s", i, summary(d.log))
		st := checkAfterKill(t, fmt.Sprintf("after kill %d", i), want, foreignIDs, foreignLines)
		bad += st.wrong
		moments = append(moments, fmt.Sprintf("%.3f/%s", frac, seconds(after)))
		t.Logf("kill %d: fraction %.3f of the rest (target %d services, %d before the start): killed %s after the start; left %d services, %d of %d lines of ours, %d recorded, %d VIPs bound, %d wrong",
			i, frac, target, before, seconds(after), len(st.tb.oursServices), len(st.tb.ours), len(want.lines), len(st.rec.services), len(st.addrs), st.wrong)
		if t.Failed() {
			// What a later start makes of a wrong state proves nothing.
			t.FailNow()
		}
	}

	d := startDaemon(t, path)
	took := d.waitHealthy(t, 20*time.Minute)
	lost, wrong := checkComplete(t, "after the clean start", want, foreignIDs, foreignLines)
	d.stop(t)
	t.Logf("clean start: synced in %s; the daemon's log:\n%s", seconds(took), summary(d.log))
	fmt.Printf("faults: kill -9 during a cold sync of %d x %d: %d kills (fraction/moment: %s), then a clean start; lost entries %d, wrong entries %d (%d while killed)\n",
		cfg.services, cfg.backends, kills, strings.Join(moments, " "), lost, wrong+bad, bad)
}

// countOurs counts the kernel's virtual servers, less the foreign ones.
func countOurs(t *testing.T, h *mobyipvs.Handle, foreign int) int {
	t.Helper()
	svcs, err := h.GetServices()
	if err != nil {
		t.Fatalf("dumping IPVS services: %v", err)
	}
	return len(svcs) - foreign
}

// waitCreated waits until the daemon has created the first target
// virtual servers of the config and returns the time since it started.
// The reconciler creates in key order, which is the config's order, so
// the virtual server numbered target-1 marks the moment; asking the
// kernel for that one server holds the IPVS mutex a moment only, where
// dumping 10,000 servers again and again would slow the daemon's writes.
func waitCreated(t *testing.T, h *mobyipvs.Handle, d *daemon, cfg desiredConfig, target int) time.Duration {
	t.Helper()
	if target == 0 {
		return time.Since(d.start)
	}
	i := target - 1
	svc := &mobyipvs.Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP,
		Address: net.IP(cfg.vip(i).AsSlice()), Port: uint16(cfg.port(i))}
	deadline := time.Now().Add(20 * time.Minute)
	for {
		if _, err := h.GetService(svc); err == nil {
			return time.Since(d.start)
		}
		if !d.running() {
			t.Fatalf("ipvsd exited before it created %d services: %v\n%s", target, d.err, d.log.Tail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d services not created after 20 minutes\n%s", target, summary(d.log))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killedState is what a kill left.
type killedState struct {
	tb    table
	rec   record
	addrs []string
	wrong int
}

// checkAfterKill checks the state a killed daemon left: part of the table
// may be missing, but nothing may be wrong or unrecorded, and the
// foreign services must be as they were.
func checkAfterKill(t *testing.T, when string, want wanted, foreignIDs, foreignLines []string) killedState {
	t.Helper()
	st := killedState{tb: readTable(t, foreignIDs), rec: readRecord(t), addrs: linkAddresses(t)}
	st.wrong = checkForeign(t, when, st.tb, foreignLines)
	if _, extra := diff(want.lines, st.tb.ours); len(extra) > 0 {
		st.wrong += len(extra)
		t.Errorf("%s: %d entries that are not in the desired table:\n%s", when, len(extra), sample(extra, 20))
	}
	if u := subset(st.tb.oursServices, st.rec.services); len(u) > 0 {
		st.wrong += len(u)
		t.Errorf("%s: %d virtual servers of ours are not in the ownership record:\n%s", when, len(u), sample(u, 20))
	}
	if u := subset(st.rec.services, want.services); len(u) > 0 {
		st.wrong += len(u)
		t.Errorf("%s: the record claims %d services nobody asked for:\n%s", when, len(u), sample(u, 20))
	}
	if u := subset(st.addrs, st.rec.addresses); len(u) > 0 {
		st.wrong += len(u)
		t.Errorf("%s: %d addresses on %s are not in the ownership record:\n%s", when, len(u), link, sample(u, 20))
	}
	return st
}

// checkComplete requires the kernel, the VIP link and the record to hold
// exactly the desired state, and the foreign services as they were.
func checkComplete(t *testing.T, when string, want wanted, foreignIDs, foreignLines []string) (lost, wrong int) {
	t.Helper()
	tb, rec, addrs := readTable(t, foreignIDs), readRecord(t), linkAddresses(t)
	wrong = checkForeign(t, when, tb, foreignLines)
	missing, extra := diff(want.lines, tb.ours)
	lost, wrong = len(missing), wrong+len(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s: the table differs from the desired one: %d missing, %d extra or wrong\nmissing:\n%s\nextra:\n%s",
			when, len(missing), len(extra), sample(missing, 20), sample(extra, 20))
	}
	if !slices.Equal(rec.services, want.services) || !slices.Equal(tb.oursServices, want.services) {
		m, e := diff(want.services, rec.services)
		t.Errorf("%s: the record names %d services (%d missing, %d extra), the kernel holds %d of ours, want %d\nmissing:\n%s\nextra:\n%s",
			when, len(rec.services), len(m), len(e), len(tb.oursServices), len(want.services), sample(m, 10), sample(e, 10))
		wrong += len(m) + len(e)
	}
	if !slices.Equal(rec.addresses, want.vips) || !slices.Equal(addrs, want.vips) {
		t.Errorf("%s: %d VIPs recorded and %d bound on %s, want %d", when, len(rec.addresses), len(addrs), link, len(want.vips))
		wrong++
	}
	return lost, wrong
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

//go:build lab

package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

const realServers = 10

// table builds n TCP virtual services with realServers NAT real servers
// each, on distinct VIPs.
func table(n int) desired.State {
	var d desired.State
	for i := 0; i < n; i++ {
		vip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
		vs := desired.VirtualServer{
			Service: ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr"},
			Owner:   fmt.Sprintf("bench/%d", i),
		}
		for j := 0; j < realServers; j++ {
			vs.Destinations = append(vs.Destinations, ipvs.Destination{
				DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, 100, byte(j), byte(i % 250)}), Port: 8080},
				Weight:  1,
			})
		}
		d.Services = append(d.Services, vs)
	}
	return d
}

// restoreText is the same table as ipvsadm -R input.
func restoreText(d desired.State) []byte {
	var b bytes.Buffer
	for _, vs := range d.Services {
		svc := netip.AddrPortFrom(vs.Address, vs.Port).String()
		fmt.Fprintf(&b, "-A -t %s -s %s\n", svc, vs.Scheduler)
		for _, rs := range vs.Destinations {
			fmt.Fprintf(&b, "-a -t %s -r %s -m -w %d\n", svc, rs.DestKey, rs.Weight)
		}
	}
	return b.Bytes()
}

// newReconcilerIn opens a reconciler on the IPVS table of the network
// namespace at nsPath ("" for the VM's own).
func newReconcilerIn(t *testing.T, nsPath string) (*reconciler.Reconciler, *hostenv.Env) {
	t.Helper()
	log := zap.NewNop()
	env, err := hostenv.Open(hostenv.Options{NetnsPath: nsPath}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json"), FullResyncInterval: time.Hour}, env.Deps(log))
	if err != nil {
		t.Fatal(err)
	}
	return rec, env
}

func report(name string, v, base float64, unit, baseName string) {
	fmt.Printf("%s: %.3f %s (baseline %s: %.3f %s, ratio %.2f)\n", name, v, unit, baseName, base, unit, v/base)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// TestBenchColdAndNoop: a cold sync of 10,000 x 10 into an empty kernel
// against ipvsadm -R restoring the same table, then a no-op sync.
func TestBenchColdAndNoop(t *testing.T) {
	const n = 10000
	want := table(n)
	input := restoreText(want)

	// Each side gets a fresh network namespace, hence an empty IPVS table
	// of its own. Sharing one table would be unfair to whoever goes second:
	// the kernel keeps deleted real servers on a per-namespace trash list
	// for a minute and searches it linearly on every real-server add, so
	// after a flush of 100,000 real servers each add costs ~100,000 steps.
	cmd := exec.Command("ip", "netns", "exec", newNetns(t, "bench-restore"), "ipvsadm", "-R")
	cmd.Stdin = bytes.NewReader(input)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -R: %v\n%s", err, out)
	}
	restore := time.Since(start)

	rec, env := newReconcilerIn(t, "/run/netns/"+newNetns(t, "bench-ours"))
	ctx := context.Background()
	start = time.Now()
	res, err := rec.Sync(ctx, want)
	cold := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Services.Added + res.Destinations.Added; got != n*(1+realServers) {
		t.Fatalf("cold sync added %d objects, want %d", got, n*(1+realServers))
	}
	report("cold_sync_10000x10", ms(cold), ms(restore), "ms", "ipvsadm -R")

	// The kernel must now hold exactly the table.
	dump, err := env.IPVS.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if len(dump) != n {
		t.Fatalf("kernel holds %d services, want %d", len(dump), n)
	}

	var times []time.Duration
	for i := 0; i < 5; i++ {
		start = time.Now()
		res, err = rec.Sync(ctx, want)
		times = append(times, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if res.Writes() != 0 || res.Dumps != 0 {
			t.Fatalf("no-op sync wrote %d and dumped %d times", res.Writes(), res.Dumps)
		}
	}
	slices.Sort(times)
	fmt.Printf("noop_sync_10000x10_writes: %d writes\n", res.Writes())
	fmt.Printf("noop_sync_10000x10_time: %.1f ms (median of 5; cold sync %.1f ms, ratio %.3f)\n", ms(times[2]), ms(cold), ms(times[2])/ms(cold))

	// The same no-op from a source that sends only changes: an empty
	// Apply, which looks at nothing.
	times = times[:0]
	for i := 0; i < 5; i++ {
		start = time.Now()
		res, err = rec.Apply(ctx, desired.Update{})
		times = append(times, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if res.Writes() != 0 || res.Dumps != 0 || res.Planned != 0 {
			t.Fatalf("no-op apply wrote %d, dumped %d times and looked at %d services", res.Writes(), res.Dumps, res.Planned)
		}
	}
	slices.Sort(times)
	fmt.Printf("noop_apply_10000x10_writes: %d writes\n", res.Writes())
	fmt.Printf("noop_apply_10000x10_time: %.3f ms (median of 5; cold sync %.1f ms, ratio %.5f)\n", ms(times[2]), ms(cold), ms(times[2])/ms(cold))

	rec.RequestFullResync()
	start = time.Now()
	res, err = rec.Sync(ctx, want)
	full := time.Since(start)
	if err != nil || res.Writes() != 0 {
		t.Fatalf("full resync of an unchanged table: %s, %v", res.String(), err)
	}
	fmt.Printf("full_resync_10000x10_time: %.1f ms (%d writes, %d dumps; cold sync %.1f ms, ratio %.3f)\n", ms(full), res.Writes(), res.Dumps, ms(cold), ms(full)/ms(cold))
}

// newNetns creates a named network namespace, deleted at the end.
func newNetns(t *testing.T, name string) string {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	// The kernel accepts a real server only at an address it would route
	// as unicast: give the namespace a default route.
	for _, args := range [][]string{
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "link", "add", "uplink", "type", "dummy"},
		{"-n", name, "link", "set", "uplink", "up"},
		{"-n", name, "route", "add", "default", "dev", "uplink"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	return name
}

// changer is one table, in a network namespace of its own, whose real
// servers' weights can be changed one at a time.
type changer struct {
	rec  *reconciler.Reconciler
	want desired.State
	n, i int
	// times, writes and planned record each Apply.
	times           []time.Duration
	writes, planned int
}

func newChanger(t *testing.T, name string, n int) *changer {
	t.Helper()
	rec, _ := newReconcilerIn(t, "/run/netns/"+newNetns(t, name))
	c := &changer{rec: rec, want: table(n), n: n}
	if _, err := rec.Sync(context.Background(), c.want); err != nil {
		t.Fatal(err)
	}
	return c
}

// change applies one real server's new weight, as a source that knows
// what changed does, and records what it cost.
func (c *changer) change(t *testing.T) {
	t.Helper()
	c.i++
	vs := &c.want.Services[(c.i*7919)%c.n]
	vs.Destinations[c.i%realServers].Weight = 2 + c.i%3
	u := desired.Update{Set: []desired.VirtualServer{*vs}}
	start := time.Now()
	res, err := c.rec.Apply(context.Background(), u)
	c.times = append(c.times, time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	c.writes = max(c.writes, res.Writes())
	c.planned = max(c.planned, res.Planned)
}

func (c *changer) median() time.Duration {
	s := slices.Clone(c.times)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestBenchOneChange: one changed real server at 10,000 services against
// the same change at 100 services.
func TestBenchOneChange(t *testing.T) {
	// Both tables live at once, each in its own namespace, and the changes
	// alternate between them, so both sizes see the same background noise
	// (the emulated CPU is shared with the host's other work).
	small := newChanger(t, "bench-small", 100)
	large := newChanger(t, "bench-large", 10000)
	for i := 0; i < 101; i++ {
		small.change(t)
		large.change(t)
	}
	report("one_rs_change_10000", ms(large.median()), ms(small.median()), "ms", "same change at 100 services, median of 101")
	fmt.Printf("one_rs_change_writes: %d writes at 10000, %d at 100\n", large.writes, small.writes)
	fmt.Printf("one_rs_change_planned: %d services looked at at 10000, %d at 100\n", large.planned, small.planned)
	if large.writes != 1 || small.writes != 1 {
		t.Fatalf("one weight change took %d / %d writes, want 1", large.writes, small.writes)
	}
	if large.planned != 1 || small.planned != 1 {
		t.Fatalf("one weight change looked at %d / %d services, want 1", large.planned, small.planned)
	}
}

//go:build lab

package benchreport

import (
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/ipvs"
)

// changeTimeout bounds one change's way to the kernel: generous, since the
// emulated CPU is shared and a standalone reload of 50,000 services takes
// minutes; a change that never arrives fails the run.
const changeTimeout = 20 * time.Minute

// pollEvery is how often a change's service is read back from the kernel:
// one service, so the read costs the same at any table size.
const pollEvery = 20 * time.Millisecond

func openIPVS(t *testing.T) *ipvs.Handle {
	t.Helper()
	h, err := ipvs.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// realServers counts the real servers in the kernel, from one dump.
func realServers(t *testing.T, h *ipvs.Handle) int {
	t.Helper()
	svcs, err := h.Dump()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range svcs {
		n += len(s.Destinations)
	}
	return n
}

// requireRealServers fails t unless the kernel holds at least want real
// servers, and prints how many it holds.
func requireRealServers(t *testing.T, h *ipvs.Handle, mode string, n, want int) {
	t.Helper()
	got := realServers(t, h)
	figure(mode, n, benchreport.KeyRealServers, float64(got))
	if got < want {
		t.Fatalf("%s reported itself programmed with %d real servers in the kernel, want at least %d", mode, got, want)
	}
}

// tcpKey is the IPVS key of a TCP virtual server.
func tcpKey(ap netip.AddrPort) ipvs.Key {
	return ipvs.Key{Family: ipvs.IPv4, Address: ap.Addr(), Protocol: ipvs.TCP, Port: ap.Port()}
}

// hasDest reports whether k has real server d with a weight for which ok
// holds.
func hasDest(h *ipvs.Handle, k ipvs.Key, d netip.AddrPort, ok func(weight int) bool) bool {
	dests, err := h.GetDestinations(k)
	if err != nil {
		return false
	}
	for _, x := range dests {
		if x.Address == d.Addr() && x.Port == d.Port() {
			return ok(x.Weight)
		}
	}
	return false
}

// waitChange polls until the change is in the kernel and returns the
// time since since.
func waitChange(t *testing.T, p *proc, since time.Time, cond func() bool) float64 {
	t.Helper()
	deadline := since.Add(changeTimeout)
	for !cond() {
		p.alive(t)
		if time.Now().After(deadline) {
			t.Fatalf("%s: a change had not reached the kernel after %s", p.name, changeTimeout)
		}
		time.Sleep(pollEvery)
	}
	return time.Since(since).Seconds()
}

// restoreFloor saves the kernel's table, flushes it and times ipvsadm -R
// restoring it: the floor of a cold start of the same table, in the same
// VM. Only our daemon's table is in this VM's kernel.
func restoreFloor(t *testing.T, mode string, n int) {
	t.Helper()
	save, err := exec.Command("ipvsadm", "-Sn").Output()
	if err != nil {
		t.Fatalf("ipvsadm -Sn: %v", err)
	}
	path := "/tmp/" + mode + "-" + strconv.Itoa(n) + ".ipvsadm"
	if err := os.WriteFile(path, save, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ipvsadm", "-C").CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -C: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = f
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -R: %v\n%s", err, out)
	}
	figure(mode, n, benchreport.KeyRestore, time.Since(t0).Seconds())
}

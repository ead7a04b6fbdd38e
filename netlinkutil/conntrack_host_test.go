package netlinkutil

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// TestKernelDeleteUDPConntrack sends real UDP through this namespace to a
// "VIP" that a DNAT rule maps to a backend, which gives conntrack entries
// of the same shape IPVS makes with conntrack=1 (original destination the
// VIP, reply source the backend), then deletes one backend's entries.
func TestKernelDeleteUDPConntrack(t *testing.T) {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := nettest.NewPeer(t, "nlu-srv", "10.77.1.2", "10.77.1.1")
	cli := nettest.NewPeer(t, "nlu-cli", "10.77.2.2", "10.77.2.1")
	srv.ServeUDP(t, 9001, "a")
	srv.ServeUDP(t, 9002, "b")
	for _, rule := range [][]string{
		{"-d", "10.77.9.9", "-p", "udp", "--dport", "53", "-j", "DNAT", "--to-destination", "10.77.1.2:9001"},
		{"-d", "10.77.9.9", "-p", "udp", "--dport", "54", "-j", "DNAT", "--to-destination", "10.77.1.2:9002"},
	} {
		if err := iptablesNAT("-A", rule); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := iptablesNAT("-D", rule); err != nil {
				t.Error(err)
			}
		})
	}
	for _, port := range []string{"53", "53", "54"} {
		if _, err := cli.UDPExchange("10.77.9.9:"+port, "ping", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	h := openHandle(t, "")
	vip, backend := netip.MustParseAddr("10.77.9.9"), netip.MustParseAddr("10.77.1.2")
	stale := FlowFilter{Protocol: unix.IPPROTO_UDP, VIP: vip, VPort: 53, Backend: backend, BPort: 9001}
	other := FlowFilter{Protocol: unix.IPPROTO_UDP, VIP: vip, VPort: 54, Backend: backend, BPort: 9002}
	// Leave the table as we found it, for -count and later tests.
	t.Cleanup(func() {
		if _, err := DeleteConntrack(h, other); err != nil {
			t.Error(err)
		}
	})
	if n := countFlows(t, h.Handle, stale); n != 2 {
		t.Fatalf("%d conntrack entries for %s, want 2 (one per client socket)", n, stale)
	}
	n, err := DeleteUDPConntrack(h, vip, 53, backend, 9001)
	if err != nil || n != 2 {
		t.Fatalf("DeleteUDPConntrack: deleted %d, %v; want 2", n, err)
	}
	if n := countFlows(t, h.Handle, stale); n != 0 {
		t.Errorf("%d entries for %s survived", n, stale)
	}
	if n := countFlows(t, h.Handle, other); n != 1 {
		t.Errorf("%d entries for %s, want the 1 that is not ours to delete", n, other)
	}
}

func iptablesNAT(op string, rule []string) error {
	args := append([]string{"-w", "-t", "nat", op, "PREROUTING"}, rule...)
	if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables %v: %w\n%s", args, err, out)
	}
	return nil
}

func countFlows(t *testing.T, h *netlink.Handle, f FlowFilter) int {
	t.Helper()
	flows, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fl := range flows {
		if f.MatchConntrackFlow(fl) {
			n++
		}
	}
	return n
}

//go:build lab

package netlinkkernel

import (
	"net"
	"net/netip"
	"os/exec"
	"syscall"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// TestUDPConntrackAfterRealServerRemoval balances UDP through a real IPVS
// NAT service with net.ipv4.vs.conntrack=1, checks the conntrack entries
// have the shape DeleteUDPConntrack looks for (original destination the
// VIP, reply source the real server), deletes one real server's entries,
// removes that server, and checks that a client still sending from the
// same socket is answered by the other one.
func TestUDPConntrackAfterRealServerRemoval(t *testing.T) {
	trackUDP(t)
	d, h := newDummy(t, "ipvs0")
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	client := nettest.NewPeer(t, "ct-client", "10.200.0.2", "10.200.0.1")
	backends := map[string]*nettest.Peer{
		"be1": nettest.NewPeer(t, "ct-be1", "10.100.1.2", "10.100.1.1"),
		"be2": nettest.NewPeer(t, "ct-be2", "10.100.2.2", "10.100.2.1"),
	}
	ih, svc, dests := udpService(t, backends)
	// One long-lived client socket, plus three one-shot ones.
	held, err := client.Dial("udp", netip.AddrPortFrom(vip4, 53).String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	victim, err := exchange(held, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := client.UDPExchange(netip.AddrPortFrom(vip4, 53).String(), "ping", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	survivor := "be1"
	if victim == "be1" {
		survivor = "be2"
	}
	filterFor := func(name string) netlinkutil.FlowFilter {
		be, _ := netip.AddrFromSlice(backends[name].Addr.To4())
		return netlinkutil.FlowFilter{Protocol: unix.IPPROTO_UDP, VIP: vip4, VPort: 53, Backend: be, BPort: 5353}
	}
	// Round robin over four flows: two each.
	for _, name := range []string{victim, survivor} {
		if n := countFlows(t, h.Handle, filterFor(name)); n != 2 {
			logFlows(t, h.Handle)
			t.Fatalf("%d conntrack entries for %s, want 2", n, filterFor(name))
		}
	}

	// Delete the victim's entries while its real server is still in
	// place: once it is removed, expire_nodest_conn=1 makes the kernel
	// expire its IPVS connections from a work item one jiffy later, and
	// with conntrack=1 that drops their conntrack entries too, racing with
	// any delete of ours. Here nothing else removes them, so the count
	// says exactly what DeleteUDPConntrack matched.
	f := filterFor(victim)
	n, err := netlinkutil.DeleteUDPConntrack(h, f.VIP, f.VPort, f.Backend, f.BPort)
	if err != nil || n != 2 {
		t.Fatalf("DeleteUDPConntrack(%s): deleted %d, %v; want 2", f, n, err)
	}
	if n := countFlows(t, h.Handle, f); n != 0 {
		t.Errorf("%d entries for %s survived", n, victim)
	}
	if n := countFlows(t, h.Handle, filterFor(survivor)); n != 2 {
		t.Errorf("%d entries for %s, want its 2 untouched", n, survivor)
	}
	if err := ih.DelDestination(svc, dests[victim]); err != nil {
		t.Fatal(err)
	}
	// The client keeps its socket (and source port). A packet or two may
	// be dropped while IPVS expires its own entry for the removed server
	// (expire_nodest_conn=1); after that the flow lands on the survivor.
	var reply string
	for attempt := 1; attempt <= 5; attempt++ {
		if reply, err = exchange(held, time.Second); err == nil {
			t.Logf("same socket answered by %s on attempt %d", reply, attempt)
			break
		}
	}
	if reply != survivor {
		t.Fatalf("after removing %s the held socket got %q (%v), want %s", victim, reply, err, survivor)
	}
}

// trackUDP turns on what the test needs of conntrack: IPVS's own sysctls,
// tracking in this namespace, and UDP entries that outlive the test.
func trackUDP(t *testing.T) {
	t.Helper()
	release, err := netlinkutil.KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := netlinkutil.EnsureIPVSSysctls(zaptest.NewLogger(t), netlinkutil.ProcSys, release); err != nil {
		t.Fatal(err)
	}
	// IPVS does not itself turn conntrack on in a namespace: the kernel
	// tracks flows only once something there needs it, such as this state
	// match (kube-proxy's and most firewalls' rules do the same).
	iptables(t, "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
	t.Cleanup(func() {
		iptables(t, "-D", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
	})
	// A UDP conntrack entry lives nf_conntrack_udp_timeout (30 s by
	// default) from its last packet. Under emulation on a loaded host the
	// first flow can reach that age before the count and the delete below,
	// and vanish between them; the test is about which entries are deleted,
	// not about expiry, so give them time.
	guestutil.SetSysctl(t, "net/netfilter/nf_conntrack_udp_timeout", "600")
}

// udpService makes a round-robin NAT service for UDP on vip4:53 with each
// of backends, each serving UDP on 5353, as a real server, through the
// handle it returns.
func udpService(t *testing.T, backends map[string]*nettest.Peer) (*mobyipvs.Handle, *mobyipvs.Service, map[string]*mobyipvs.Destination) {
	t.Helper()
	ih, err := mobyipvs.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ih.Close)
	svc := &mobyipvs.Service{
		Address: vip4.AsSlice(), Protocol: syscall.IPPROTO_UDP, Port: 53,
		AddressFamily: syscall.AF_INET, SchedName: mobyipvs.RoundRobin, Netmask: 0xffffffff,
	}
	if err := ih.NewService(svc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ih.DelService(svc) })
	dests := map[string]*mobyipvs.Destination{}
	for name, be := range backends {
		be.ServeUDP(t, 5353, name)
		dests[name] = &mobyipvs.Destination{
			Address: be.Addr.To4(), Port: 5353, Weight: 1,
			ConnectionFlags: mobyipvs.ConnectionFlagMasq, AddressFamily: syscall.AF_INET,
		}
		if err := ih.NewDestination(svc, dests[name]); err != nil {
			t.Fatal(err)
		}
	}
	return ih, svc, dests
}

func iptables(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %v: %v\n%s", args, err, out)
	}
}

func exchange(c net.Conn, timeout time.Duration) (string, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func countFlows(t *testing.T, h *netlink.Handle, f netlinkutil.FlowFilter) int {
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

func logFlows(t *testing.T, h *netlink.Handle) {
	t.Helper()
	flows, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range flows {
		t.Logf("conntrack: %s", fl)
	}
}

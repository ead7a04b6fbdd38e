//go:build lab

package firewall

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"syscall"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

var errRefused = syscall.ECONNREFUSED

func hostPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

// TestTraffic runs every case in each back-end, one network per back-end,
// with the Calico-like ruleset (FORWARD policy DROP) installed first. The
// pod and outside namespaces reach services only through the node's
// forwarding path, so every answer also proves FORWARD lets them through.
func TestTraffic(t *testing.T) {
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		t.Run(string(m), func(t *testing.T) {
			l := setup(t, m)
			// Each case leaves l.fwd as it found it.
			t.Run("masquerade", l.masquerade)
			t.Run("hairpin", l.hairpin)
			t.Run("nodeport", l.nodePort)
			t.Run("source-ranges", l.sourceRanges)
			t.Run("other-ports", l.otherPorts)
			t.Run("no-endpoints", l.noEndpoints)
			t.Run("forward-drop", l.forwardDrop)
			if t.Failed() {
				dump(t, m)
			}
			l.finish(t)
		})
	}
}

// masquerade: the node and outside clients are masqueraded, pods keep
// their address, --masquerade-all masquerades pods too.
func (l *testNet) masquerade(t *testing.T) {
	vip := hostPort(clusterIP, 80)
	wantSeen(t, node, vip, "be "+beHost)
	wantSeen(t, from(l.pod), vip, "be "+l.pod.Addr.String())
	wantSeen(t, from(l.out), vip, "be "+beHost)

	l.fwd.MasqueradeAll = true
	l.sync(t)
	defer func() { l.fwd.MasqueradeAll = false; l.sync(t) }()
	wantSeen(t, from(l.pod), vip, "be "+beHost)
	wantSeen(t, from(l.out), vip, "be "+beHost)
	wantSeen(t, node, vip, "be "+beHost)
}

// hairpin: the only backend reaching its own service lands on itself; it
// must be masqueraded, or its reply would go straight back to itself,
// bypassing IPVS.
func (l *testNet) hairpin(t *testing.T) {
	wantSeen(t, from(l.be), hostPort(clusterIP, 80), "be "+beHost)
}

// nodePort: reachable on the selected node address only, TCP and UDP.
func (l *testNet) nodePort(t *testing.T) {
	wantSeen(t, from(l.out), hostPort(nodeA, nodePort), "be "+beHost)
	wantUDPSeen(t, from(l.out), hostPort(nodeA, nodePortU), "be "+beHost)
	wantSeen(t, from(l.pod), hostPort(nodeA, nodePort), "be "+l.pod.Addr.String())
	wantSeen(t, node, hostPort(nodeA, nodePort), "be "+beHost)

	wantRejected(t, from(l.out), hostPort(nodeB, nodePort), errRefused)
	wantUDPRejected(t, from(l.out), hostPort(nodeB, nodePortU), errRefused)
	wantRejected(t, from(l.out2), hostPort(nodeB, nodePort), errRefused)
}

// sourceRanges: an allowed source connects, a denied one is dropped, and
// the node's own traffic is judged by the ranges too.
func (l *testNet) sourceRanges(t *testing.T) {
	lb := hostPort(lbIP, 80)
	wantSeen(t, from(l.out), lb, "be "+beHost)
	wantDropped(t, from(l.out2), lb)
	// The node's own SYN is dropped in filter OUTPUT. The socket gets no
	// EPERM: what is dropped is the copy IPVS re-sent through LOCAL_OUT
	// after rewriting it, the original having been stolen.
	wantDropped(t, node, lb)

	// A range that holds one of the node's addresses admits the node,
	// although its connection leaves with the VIP as source.
	lbs := &l.fwd.Services[3]
	saved := lbs.SourceRanges
	lbs.SourceRanges = append(saved[:len(saved):len(saved)], netip.PrefixFrom(nodeB, 32))
	l.sync(t)
	defer func() { lbs.SourceRanges = saved; l.sync(t) }()
	wantSeen(t, node, lb, "be "+beHost)
	// ... and the node only: out2 lives on nodeB's network, not at nodeB.
	wantDropped(t, from(l.out2), lb)
	wantSeen(t, from(l.out), lb, "be "+beHost)
}

// otherPorts: a VIP answers on its services' ports only, while a host
// daemon on 0.0.0.0 stays reachable on the node's real address.
func (l *testNet) otherPorts(t *testing.T) {
	for _, d := range []dialer{from(l.out), from(l.pod), node} {
		wantRejected(t, d, hostPort(clusterIP, daemonPort), errRefused)
		wantUDPRejected(t, d, hostPort(clusterIP, daemonPort), errRefused)
		// The load balancer's VIP too, for a source its ranges allow.
		if d.name == l.out.Name {
			wantRejected(t, d, hostPort(lbIP, daemonPort), errRefused)
		}
	}
	wantSeen(t, from(l.out), hostPort(nodeA, daemonPort), "host "+l.out.Addr.String())
	wantUDPSeen(t, from(l.out), hostPort(nodeA, daemonPort), "host "+l.out.Addr.String())
	wantSeen(t, from(l.pod), fmt.Sprintf("10.244.1.1:%d", daemonPort), "host "+l.pod.Addr.String())
}

// noEndpoints: a virtual server without real servers refuses at once.
// The node's own datagram never reaches our reject rule: IPVS schedules
// it in LOCAL_OUT, before filter OUTPUT, finds no real server and drops
// it (ip_vs_leave, after sending an ICMP port unreachable), so sendmsg
// itself fails with EPERM. Fast either way, which is what matters.
func (l *testNet) noEndpoints(t *testing.T) {
	for _, d := range []dialer{from(l.out), from(l.pod), node} {
		wantRejected(t, d, hostPort(noEndpoints, 80), errRefused)
		udpErr := errRefused
		if d.name == node.name {
			udpErr = syscall.EPERM
		}
		wantUDPRejected(t, d, hostPort(noEndpoints, 53), udpErr)
	}
}

// forwardDrop is the control for every pod and outside case: without our
// FORWARD jump the Calico-like DROP policy eats the replies (they are
// forwarded from the backend to the client before IPVS rewrites their
// source), and the periodic Check puts the jump back.
func (l *testNet) forwardDrop(t *testing.T) {
	firewalltest.Sh(t, "", firewalltest.Tool(l.mode, ipvs.IPv4, ""), "-t", "filter", "-D", "FORWARD", "-j", "IPVSD-FORWARD")
	if got, err := from(l.pod).whoami(hostPort(clusterIP, 80)); err == nil {
		t.Errorf("pod reached the service without our FORWARD rules (%q): the DROP policy is not in the path", got)
	}
	res, err := l.fw.Check(context.Background(), l.fwd)
	if err != nil || res.JumpsInserted != 1 {
		t.Fatalf("check after deleting our FORWARD jump: %+v, %v", res, err)
	}
	wantSeen(t, from(l.pod), hostPort(clusterIP, 80), "be "+l.pod.Addr.String())
}

// dump logs the kernel state behind a failure.
func dump(t *testing.T, m firewall.Mode) {
	for _, c := range [][]string{
		{firewalltest.Tool(m, ipvs.IPv4, "save"), "-c"},
		{"ipset", "list"},
		{"ipvsadm", "-Ln"},
		{"ipvsadm", "-Lnc"},
		{"ip", "-br", "addr"},
		{"sh", "-c", "cat /proc/net/nf_conntrack 2>/dev/null | head -50"},
	} {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		t.Logf("$ %v (%v)\n%s", c, err, out)
	}
}

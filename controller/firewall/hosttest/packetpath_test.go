package hosttest

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// The packet-path test's node: this namespace holds the VIPs on lo and
// answers on them itself (this kernel has no IPVS), so every packet of a
// connection crosses our mangle PREROUTING and filter INPUT chains as it
// would before IPVS's LOCAL_IN hook.
const (
	ppClusterIP  = "10.96.0.30"
	ppExternalIP = "192.0.2.30"
	ppMark       = 0x3003
	ppEchoes     = 3
)

// TestPacketPaths follows real packets through the real rules, reading
// the rules' packet counters (a counter counts the packets that met
// every match of its rule). A counting rule with no match or target (a
// probe) is put right before the VIP reject in IPVSD-INPUT: it counts
// every packet that got that far. Service traffic, new or established,
// is accepted before it; a packet to another port of a VIP still
// reaches it and is refused, though a host daemon listens on that port.
// Pod traffic skips the local-mark chain (one source lookup); outside
// traffic to a local-only address is marked on every packet, so losing
// the local endpoint drops an established connection at its next
// packet.
func TestPacketPaths(t *testing.T) {
	ctx := context.Background()
	for _, vip := range []string{ppClusterIP, ppExternalIP} {
		firewalltest.Sh(t, "", "ip", "addr", "add", vip+"/32", "dev", "lo")
	}
	pod := nettest.NewPeer(t, "pp-pod", "10.244.7.2", "10.244.7.1")
	out := nettest.NewPeer(t, "pp-out", "203.0.113.2", "203.0.113.1")
	node := nettest.Current(t)
	node.ServeTCP(t, 80, "hi")
	node.ServeTCP(t, 81, "hi")

	fw := newIPv4Firewall(t)
	d := packetPathDesired(true)
	if _, err := fw.Sync(ctx, d); err != nil {
		t.Fatal(err)
	}
	ipt := firewalltest.Tool(firewall.ModeNFT, ipvs.IPv4, "")
	probeAt := ruleIndex(t, "filter", "IPVSD-INPUT", "ipvsd-vips-v4")
	firewalltest.Sh(t, "", ipt, "-t", "filter", "-I", "IPVSD-INPUT", strconv.Itoa(probeAt))
	probe := func() int { return ruleCounter(t, "filter", "IPVSD-INPUT", "") }
	accept := func() int { return ruleCounter(t, "filter", "IPVSD-INPUT", "ipvsd-vs-v4 dst,dst -j ACCEPT") }
	localMark := func() int { return ruleCounter(t, "mangle", "IPVSD-LOCAL-MARK", "ipvsd-vs-fwmark-v4") }

	a0, m0 := accept(), localMark()
	sent := exchange(t, pod.NS, ppClusterIP+":80", ppEchoes)
	if got := accept() - a0; got < sent {
		t.Errorf("the service accept counted %d of the pod's %d packets to the ClusterIP", got, sent)
	}
	if got := probe(); got != 0 {
		t.Errorf("%d service packets went past the service accept to the VIP reject", got)
	}
	if got := localMark() - m0; got != 0 {
		t.Errorf("%d pod packets entered the local-mark chain", got)
	}

	if c, err := pod.Dial("tcp", ppClusterIP+":81", 3*time.Second); err == nil {
		c.Close()
		t.Error("a host daemon on :81 answered on the ClusterIP")
	}
	if got := probe(); got != 1 {
		t.Errorf("the VIP reject's probe counted %d packets of a refused connection, want 1 (its SYN); the filter table:\n%s",
			got, firewalltest.Sh(t, "", firewalltest.Tool(firewall.ModeNFT, ipvs.IPv4, "save"), "-c", "-t", "filter"))
	}
	if hello, c, err := pod.TCPHello("10.244.7.1:81", 3*time.Second); err != nil || hello != "hi" {
		t.Errorf("the node's own address on :81: %q, %v", hello, err)
	} else {
		c.Close()
	}

	m0 = localMark()
	sent = exchange(t, out.NS, ppExternalIP+":80", ppEchoes)
	if got := localMark() - m0; got < sent {
		t.Errorf("the local mark met %d of the %d outside packets to a local-only address, want every one", got, sent)
	}
	localEndpointGoes(t, fw, out.NS)
}

// localEndpointGoes: an established outside connection to the local-only
// address loses its local endpoint; its next packet carries the drop bit
// and is dropped.
func localEndpointGoes(t *testing.T, fw *firewall.Firewall, out *nettest.NS) {
	t.Helper()
	hello, c, err := out.TCPHello(ppExternalIP+":80", 3*time.Second)
	if err != nil || hello != "hi" {
		t.Fatalf("outside to the local-only address: %q, %v", hello, err)
	}
	defer c.Close()
	if err := nettest.Echo(c, "before", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Sync(context.Background(), packetPathDesired(false)); err != nil {
		t.Fatal(err)
	}
	if err := nettest.Echo(c, "after", 2*time.Second); err == nil {
		t.Error("an established connection's packet got through after its local endpoint went")
	}
}

// packetPathDesired: a ClusterIP, and a local-only external IP whose
// outside traffic is marked (or dropped without a local endpoint).
func packetPathDesired(local bool) firewall.Desired {
	return firewall.Desired{
		Services: []firewall.VirtualServer{
			{Key: key(ppClusterIP, ipvs.TCP, 80), Kind: firewall.ClusterIP, HasEndpoints: true},
			{Key: key(ppExternalIP, ipvs.TCP, 80), Kind: firewall.ExternalIP, HasEndpoints: true, LocalOnly: true,
				LocalFWMark: ppMark, HasLocalEndpoints: local},
		},
		ClusterCIDRs: prefixes("10.244.0.0/16"),
	}
}

// exchange opens one connection from ns to addr, reads the greeting,
// echoes n lines and closes, and returns the packets the client sent:
// the handshake's two, one per line, and at least two to close.
func exchange(t *testing.T, ns *nettest.NS, addr string, n int) int {
	t.Helper()
	hello, c, err := ns.TCPHello(addr, 3*time.Second)
	if err != nil || hello != "hi" {
		t.Fatalf("%s -> %s: %q, %v", ns.Name, addr, hello, err)
	}
	for i := range n {
		if err := nettest.Echo(c, fmt.Sprint("line ", i), 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// The last ACK of the close may still be on its way.
	time.Sleep(100 * time.Millisecond)
	return 2 + n + 2
}

var ruleCounters = regexp.MustCompile(`^\[(\d+):\d+\] -A (\S+) ?(.*)$`)

// ruleCounter is the packet counter of chain's first rule containing
// part, or of its rule with no match and no target when part is empty.
func ruleCounter(t *testing.T, table, chain, part string) int {
	t.Helper()
	save := firewalltest.Sh(t, "", firewalltest.Tool(firewall.ModeNFT, ipvs.IPv4, "save"), "-c", "-t", table)
	for _, l := range strings.Split(save, "\n") {
		m := ruleCounters.FindStringSubmatch(l)
		if m == nil || m[2] != chain || (part == "" && m[3] != "") || (part != "" && !strings.Contains(m[3], part)) {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	t.Fatalf("no rule of %s %s holds %q in\n%s", table, chain, part, save)
	return 0
}

// ruleIndex is the 1-based position in chain of the first rule containing
// part.
func ruleIndex(t *testing.T, table, chain, part string) int {
	t.Helper()
	// Only the rules count: the output also declares the chain and may
	// warn of the other back-end's tables.
	i := 0
	for _, r := range strings.Split(firewalltest.Sh(t, "", firewalltest.Tool(firewall.ModeNFT, ipvs.IPv4, ""), "-t", table, "-S", chain), "\n") {
		if !strings.HasPrefix(r, "-A ") {
			continue
		}
		if i++; strings.Contains(r, part) {
			return i
		}
	}
	t.Fatalf("no rule of %s %s holds %q", table, chain, part)
	return 0
}

//go:build lab

package firewall

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// The lab network. The test's own namespace is the node; every other
// namespace hangs off it by a veth and routes through it, as pods and
// remote clients do.
var (
	clusterCIDR = netip.MustParsePrefix("10.244.0.0/16")
	clusterIP   = netip.MustParseAddr("10.96.0.10")  // port 80 -> backend
	noEndpoints = netip.MustParseAddr("10.96.0.11")  // tcp 80, udp 53, no real servers
	lbIP        = netip.MustParseAddr("10.96.100.1") // port 80 -> backend, source ranges
	// nodeA and nodeB are the node's addresses on the links to the
	// outside and outside2 namespaces; --nodeport-addresses selects A.
	nodeA = netip.MustParseAddr("192.168.50.1")
	nodeB = netip.MustParseAddr("192.168.60.1")
	// beHost is the node's address on the backend's link: what the
	// backend sees when a client was masqueraded.
	beHost = "10.244.2.1"
)

const (
	bePort     = 8080  // backend HTTP whoami
	beUDPPort  = 5353  // backend UDP whoami
	nodePort   = 30080 // tcp
	nodePortU  = 30053 // udp
	daemonPort = 2222  // a host daemon on 0.0.0.0, tcp and udp
)

// testNet is one test's network, IPVS and firewall.
type testNet struct {
	mode                    firewall.Mode
	pod, be, out, out2      *nettest.Peer
	rec                     *reconciler.Reconciler
	fw                      *firewall.Firewall
	ipvs                    desired.State
	fwd                     firewall.Desired
	calicoBefore, nftBefore string
}

// setup builds the network, installs the Calico-like ruleset, programs IPVS
// through the reconciler and syncs the firewall in mode m. Everything is
// removed in t.Cleanup; the caller checks Calico's lines with finish.
func setup(t *testing.T, m firewall.Mode) *testNet {
	t.Helper()
	ctx := context.Background()
	lab.ResetIPVS(t, hostenv.DefaultInterface)
	l := &testNet{mode: m}
	l.pod = nettest.NewPeer(t, "fw-pod", "10.244.1.2", "10.244.1.1")
	l.be = nettest.NewPeer(t, "fw-be", "10.244.2.2", beHost)
	l.out = nettest.NewPeer(t, "fw-out", "192.168.50.2", nodeA.String())
	l.out2 = nettest.NewPeer(t, "fw-out2", "192.168.60.2", nodeB.String())

	serveWhoAmI(t, l.be.Listen(t, "tcp", ":8080"), "be")
	var pc net.PacketConn
	if err := l.be.Do(func() (err error) { pc, err = net.ListenPacket("udp", ":5353"); return err }); err != nil {
		t.Fatal(err)
	}
	serveUDPWhoAmI(t, pc, "be")
	// A host daemon listening on every address of the node.
	hl, err := net.Listen("tcp", ":2222")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hl.Close() })
	serveWhoAmI(t, hl, "host")
	hpc, err := net.ListenPacket("udp", ":2222")
	if err != nil {
		t.Fatal(err)
	}
	serveUDPWhoAmI(t, hpc, "host")

	firewalltest.Calico(t, m, clusterCIDR)
	l.calicoBefore = firewalltest.SaveAll(t, m, ipvs.IPv4)
	if !strings.Contains(l.calicoBefore, ":FORWARD DROP") {
		t.Fatalf("the Calico-like ruleset must drop forwarded traffic by default:\n%s", l.calicoBefore)
	}
	l.nftBefore = firewalltest.SaveAll(t, firewalltest.OtherMode(m), ipvs.IPv4)

	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	env, err := hostenv.Open(hostenv.Options{SetSysctls: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	l.rec, err = reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json")}, env.Deps(log))
	if err != nil {
		t.Fatal(err)
	}
	l.ipvs = ipvsState()
	if _, err := l.rec.Sync(ctx, l.ipvs); err != nil {
		t.Fatal(err)
	}
	l.fw, err = firewall.New(ctx, log, firewall.Config{Mode: m, Families: []ipvs.Family{ipvs.IPv4}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.fw.Cleanup(context.Background()); err != nil {
			t.Error(err)
		}
	})
	l.fwd = firewallState()
	l.sync(t)
	return l
}

// sync applies l.fwd and checks that only our lines were added.
func (l *testNet) sync(t *testing.T) {
	t.Helper()
	if _, err := l.fw.Sync(context.Background(), l.fwd); err != nil {
		t.Fatal(err)
	}
	// What Sync wrote must read back as written (the periodic Check
	// compares the kernel's own listing with what we render).
	if res, err := l.fw.Check(context.Background(), l.fwd); err != nil || res != (firewall.Result{}) {
		t.Fatalf("check right after sync: %+v, %v; want nothing to repair", res, err)
	}
	if _, got := firewalltest.Split(firewalltest.SaveAll(t, l.mode, ipvs.IPv4)); got != l.calicoBefore {
		t.Fatalf("someone else's rules changed:\n%s\nwant\n%s", got, l.calicoBefore)
	}
}

// finish removes our rules and sets and requires the ruleset, in both
// back-ends, to be byte-for-byte what it was before we came.
func (l *testNet) finish(t *testing.T) {
	t.Helper()
	if err := l.fw.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := firewalltest.SaveAll(t, l.mode, ipvs.IPv4); got != l.calicoBefore {
		t.Errorf("after cleanup:\n%s\nwant\n%s", got, l.calicoBefore)
	}
	if got := firewalltest.SaveAll(t, firewalltest.OtherMode(l.mode), ipvs.IPv4); got != l.nftBefore {
		t.Errorf("the %s back-end was touched:\n%s\nwant\n%s", firewalltest.OtherMode(l.mode), got, l.nftBefore)
	}
	if names := firewalltest.Sh(t, "", "ipset", "list", "-n"); strings.Contains(names, firewall.SetPrefix) {
		t.Errorf("our ipsets survived cleanup:\n%s", names)
	}
}

func key(a netip.Addr, p ipvs.Protocol, port uint16) ipvs.Key {
	return ipvs.Key{Family: ipvs.IPv4, Address: a, Protocol: p, Port: port}
}

func vs(k ipvs.Key, backendPort uint16) desired.VirtualServer {
	v := desired.VirtualServer{
		Service:      ipvs.Service{Key: k, Scheduler: "rr"},
		Owner:        "fw/" + k.String(),
		DrainTimeout: -1,
	}
	if backendPort != 0 {
		v.Destinations = []ipvs.Destination{{
			DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.244.2.2"), Port: backendPort},
			Weight:  1, Forwarding: ipvs.Masquerade,
		}}
	}
	return v
}

// ipvsState is the IPVS side. A NodePort is one virtual server per
// selected node address, so the unselected address has none.
func ipvsState() desired.State {
	d := desired.State{Services: []desired.VirtualServer{
		vs(key(clusterIP, ipvs.TCP, 80), bePort),
		vs(key(noEndpoints, ipvs.TCP, 80), 0),
		vs(key(noEndpoints, ipvs.UDP, 53), 0),
		vs(key(lbIP, ipvs.TCP, 80), bePort),
		vs(key(nodeA, ipvs.TCP, nodePort), bePort),
		vs(key(nodeA, ipvs.UDP, nodePortU), beUDPPort),
	}}
	// nodeA is already on its veth, so the reconciler leaves it there;
	// only the service addresses land on the dummy link.
	d.Addresses = d.ServiceAddresses()
	return d
}

func firewallState() firewall.Desired {
	return firewall.Desired{
		Services: []firewall.VirtualServer{
			{Key: key(clusterIP, ipvs.TCP, 80), Kind: firewall.ClusterIP, HasEndpoints: true},
			{Key: key(noEndpoints, ipvs.TCP, 80), Kind: firewall.ClusterIP},
			{Key: key(noEndpoints, ipvs.UDP, 53), Kind: firewall.ClusterIP},
			{Key: key(lbIP, ipvs.TCP, 80), Kind: firewall.LoadBalancerIP, HasEndpoints: true,
				// The outside client only: no node address, so the
				// node itself is denied until a test adds one.
				SourceRanges: []netip.Prefix{netip.MustParsePrefix("192.168.50.2/32")}},
			{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: nodePort}, Kind: firewall.NodePort, HasEndpoints: true},
			{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.UDP, Port: nodePortU}, Kind: firewall.NodePort, HasEndpoints: true},
		},
		ClusterCIDRs:  []netip.Prefix{clusterCIDR},
		NodePortCIDRs: []netip.Prefix{netip.PrefixFrom(nodeA, 32)},
		NodeAddresses: []netip.Addr{nodeA, nodeB},
		Hairpins: []firewall.Hairpin{
			{Backend: netip.MustParseAddr("10.244.2.2"), Protocol: ipvs.TCP, Port: bePort},
		},
	}
}

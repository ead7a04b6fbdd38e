//go:build lab

package firewall

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// The IPv6 lab network, shaped like the IPv4 one: pods and the backend in
// the cluster CIDR, an outside client on the node's own network.
var (
	clusterCIDR6 = netip.MustParsePrefix("fd00:244::/48")
	clusterIP6   = netip.MustParseAddr("fd00:96::10") // port 80 -> backend
	noEndpoints6 = netip.MustParseAddr("fd00:96::11") // tcp 80, udp 53, no real servers
	beIP6        = netip.MustParseAddr("fd00:244:0:2::2")
	// beHost6 is the node's address on the backend's link: what the
	// backend sees when a client was masqueraded.
	beHost6 = "fd00:244:0:2::1"
	nodeA6  = netip.MustParseAddr("fd00:50::1")
)

// ipv6Net is one back-end's IPv6 network, IPVS and firewall.
type ipv6Net struct {
	mode         firewall.Mode
	pod, be, out *nettest.Peer
	fw           *firewall.Firewall
	fwd          firewall.Desired
	// before are both families' rulesets in both back-ends, the
	// Calico-like IPv6 one installed, before we came.
	before map[firewall.Mode]map[ipvs.Family]string
}

var bothFamilies = []ipvs.Family{ipvs.IPv4, ipvs.IPv6}

// TestIPv6Traffic: an IPv6 ClusterIP service through IPVS and the
// firewall of both families, next to a Calico-like ip6tables ruleset
// (FORWARD policy DROP) that must come out untouched. Pods keep their
// address, outside clients and the node are masqueraded, a VIP's other
// ports and a service without real servers refuse at once.
func TestIPv6Traffic(t *testing.T) {
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		t.Run(string(m), func(t *testing.T) {
			l := setupIPv6(t, m)
			t.Run("masquerade", l.masquerade)
			t.Run("other-ports", l.otherPorts)
			t.Run("no-endpoints", l.noEndpoints)
			if t.Failed() {
				dumpIPv6(t, m)
			}
			l.finish(t)
		})
	}
}

func (l *ipv6Net) masquerade(t *testing.T) {
	vip := hostPort(clusterIP6, 80)
	wantSeen(t, from(l.pod), vip, "be "+l.pod.Addr.String())
	wantSeen(t, from(l.out), vip, "be "+beHost6)
	wantSeen(t, node, vip, "be "+beHost6)
	// The only backend reaching its own service is a hairpin.
	wantSeen(t, from(l.be), vip, "be "+beHost6)
}

// otherPorts: the VIP answers on its service's port only, although a host
// daemon listens on [::]; the daemon stays reachable on the node's own
// address.
func (l *ipv6Net) otherPorts(t *testing.T) {
	for _, d := range []dialer{from(l.out), from(l.pod), node} {
		wantRejected(t, d, hostPort(clusterIP6, daemonPort), errRefused)
		wantUDPRejected(t, d, hostPort(clusterIP6, daemonPort), errRefused)
	}
	wantSeen(t, from(l.out), hostPort(nodeA6, daemonPort), "host "+l.out.Addr.String())
}

// noEndpoints: a virtual server without real servers refuses at once.
// The node's own traffic never reaches our reject rule: IPVS schedules it
// in LOCAL_OUT, before filter OUTPUT, finds no real server and drops it
// (ip_vs_leave) after sending an ICMPv6 port unreachable, so a datagram's
// sendmsg fails with EPERM, as in IPv4. For TCP that ICMPv6 error comes
// back over loopback while connect() still owns the socket, so tcp_v6_err
// keeps it as a soft error only (TcpExtLockDroppedIcmps counts it) and
// connect fails on the retransmitted SYN, a second later. REJECT exists
// only in filter, after IPVS's LOCAL_OUT hook, so the firewall cannot
// answer sooner: the node's TCP is held to a refusal, not to fast.
func (l *ipv6Net) noEndpoints(t *testing.T) {
	for _, d := range []dialer{from(l.out), from(l.pod)} {
		wantRejected(t, d, hostPort(noEndpoints6, 80), errRefused)
		wantUDPRejected(t, d, hostPort(noEndpoints6, 53), errRefused)
	}
	wantUDPRejected(t, node, hostPort(noEndpoints6, 53), syscall.EPERM)
	c, err := node.dial("tcp", hostPort(noEndpoints6, 80), 3*time.Second)
	if err == nil {
		c.Close()
	}
	if !errors.Is(err, errRefused) {
		t.Errorf("node -> %s: %v, want %v", hostPort(noEndpoints6, 80), err, errRefused)
	}
}

func setupIPv6(t *testing.T, m firewall.Mode) *ipv6Net {
	t.Helper()
	ctx := context.Background()
	lab.ResetIPVS(t, hostenv.DefaultInterface)
	// The node routes for its IPv6 peers; the IPVS sysctls the
	// reconciler sets cover IPv4 forwarding only.
	guestutil.SetSysctl(t, "net/ipv6/conf/all/forwarding", "1")
	l := &ipv6Net{mode: m}
	l.pod = nettest.NewPeer(t, "fw6-pod", "fd00:244:0:1::2", "fd00:244:0:1::1")
	l.be = nettest.NewPeer(t, "fw6-be", beIP6.String(), beHost6)
	l.out = nettest.NewPeer(t, "fw6-out", "fd00:50::2", nodeA6.String())

	serveWhoAmI(t, l.be.Listen(t, "tcp6", "[::]:8080"), "be")
	hl, err := net.Listen("tcp6", "[::]:2222")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hl.Close() })
	serveWhoAmI(t, hl, "host")
	hpc, err := net.ListenPacket("udp6", "[::]:2222")
	if err != nil {
		t.Fatal(err)
	}
	serveUDPWhoAmI(t, hpc, "host")

	firewalltest.Calico(t, m, clusterCIDR6)
	l.before = map[firewall.Mode]map[ipvs.Family]string{}
	for _, mm := range []firewall.Mode{m, firewalltest.OtherMode(m)} {
		l.before[mm] = map[ipvs.Family]string{}
		for _, f := range bothFamilies {
			l.before[mm][f] = firewalltest.SaveAll(t, mm, f)
		}
	}
	if !strings.Contains(l.before[m][ipvs.IPv6], ":FORWARD DROP") {
		t.Fatalf("the Calico-like ruleset must drop forwarded IPv6 traffic by default:\n%s", l.before[m][ipvs.IPv6])
	}

	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	env, err := hostenv.Open(hostenv.Options{SetSysctls: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json")}, env.Deps(log))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Sync(ctx, ipvsState6()); err != nil {
		t.Fatal(err)
	}
	l.fw, err = firewall.New(ctx, log, firewall.Config{Mode: m, Families: bothFamilies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.fw.Cleanup(context.Background()); err != nil {
			t.Error(err)
		}
	})
	l.fwd = firewallState6()
	if _, err := l.fw.Sync(ctx, l.fwd); err != nil {
		t.Fatal(err)
	}
	if res, err := l.fw.Check(ctx, l.fwd); err != nil || res != (firewall.Result{}) {
		t.Fatalf("check right after sync: %+v, %v; want nothing to repair", res, err)
	}
	if _, got := firewalltest.Split(firewalltest.SaveAll(t, m, ipvs.IPv6)); got != l.before[m][ipvs.IPv6] {
		t.Fatalf("someone else's rules changed:\n%s\nwant\n%s", got, l.before[m][ipvs.IPv6])
	}
	return l
}

// finish removes our rules and sets and requires every ruleset to be
// byte-for-byte what it was before we came.
func (l *ipv6Net) finish(t *testing.T) {
	t.Helper()
	if err := l.fw.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	for m, fams := range l.before {
		for f, want := range fams {
			if got := firewalltest.SaveAll(t, m, f); got != want {
				t.Errorf("%s %s after cleanup:\n%s\nwant\n%s", m, f, got, want)
			}
		}
	}
	if names := firewalltest.Sh(t, "", "ipset", "list", "-n"); strings.Contains(names, firewall.SetPrefix) {
		t.Errorf("our ipsets survived cleanup:\n%s", names)
	}
}

func key6(a netip.Addr, p ipvs.Protocol, port uint16) ipvs.Key {
	return ipvs.Key{Family: ipvs.IPv6, Address: a, Protocol: p, Port: port}
}

func vs6(k ipvs.Key, withBackend bool) desired.VirtualServer {
	v := desired.VirtualServer{
		Service:      ipvs.Service{Key: k, Scheduler: "rr"},
		Owner:        "fw6/" + k.String(),
		DrainTimeout: -1,
	}
	if withBackend {
		v.Destinations = []ipvs.Destination{{
			DestKey: ipvs.DestKey{Address: beIP6, Port: bePort},
			Weight:  1, Forwarding: ipvs.Masquerade,
		}}
	}
	return v
}

func ipvsState6() desired.State {
	d := desired.State{Services: []desired.VirtualServer{
		vs6(key6(clusterIP6, ipvs.TCP, 80), true),
		vs6(key6(noEndpoints6, ipvs.TCP, 80), false),
		vs6(key6(noEndpoints6, ipvs.UDP, 53), false),
	}}
	d.Addresses = d.ServiceAddresses()
	return d
}

func firewallState6() firewall.Desired {
	return firewall.Desired{
		Services: []firewall.VirtualServer{
			{Key: key6(clusterIP6, ipvs.TCP, 80), Kind: firewall.ClusterIP, HasEndpoints: true},
			{Key: key6(noEndpoints6, ipvs.TCP, 80), Kind: firewall.ClusterIP},
			{Key: key6(noEndpoints6, ipvs.UDP, 53), Kind: firewall.ClusterIP},
		},
		ClusterCIDRs:  []netip.Prefix{clusterCIDR6},
		NodeAddresses: []netip.Addr{nodeA6},
		Hairpins:      []firewall.Hairpin{{Backend: beIP6, Protocol: ipvs.TCP, Port: bePort}},
	}
}

// dumpIPv6 logs the kernel state behind a failure.
func dumpIPv6(t *testing.T, m firewall.Mode) {
	dump(t, m)
	for _, c := range [][]string{
		{firewalltest.Tool(m, ipvs.IPv6, "save"), "-c"},
		{"ip", "-6", "route"},
	} {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		t.Logf("$ %v (%v)\n%s", c, err, out)
	}
}

package kubeproxy_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/controller/kubeproxy"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
	"github.com/ipvsd/ipvsd/netlinkutil"
	"github.com/ipvsd/ipvsd/netlinkutil/netlinktest"
)

var eqAddr = cmpopts.EquateComparable(netip.Addr{})

func key(addr string, p ipvs.Protocol, port uint16) ipvs.Key {
	a := netip.MustParseAddr(addr)
	return ipvs.Key{Family: ipvs.FamilyOf(a), Address: a, Protocol: p, Port: port}
}

// book is bookkeeping as kube-proxy leaves it for a ClusterIP
// 10.96.0.10:80, an external IP, an SCTP and a TCP node port, IPv6 too.
func book() kubeproxy.Bookkeeping {
	return kubeproxy.Bookkeeping{
		Link: true,
		LinkAddrs: map[netip.Addr]bool{
			netip.MustParseAddr("10.96.0.10"): true, netip.MustParseAddr("192.0.2.50"): true, netip.MustParseAddr("fd00:96::10"): true,
		},
		Sets: map[string][]string{
			"KUBE-CLUSTER-IP":          {"10.96.0.10,tcp:80"},
			"KUBE-6-CLUSTER-IP":        {"fd00:96::10,udp:53"},
			"KUBE-EXTERNAL-IP":         {"192.0.2.50,tcp:443"},
			"KUBE-NODE-PORT-TCP":       {"30080"},
			"KUBE-NODE-PORT-SCTP-HASH": {"10.0.2.15,sctp:30090"},
			"KUBE-LOOP-BACK":           {"10.244.1.2,tcp:8080,10.244.1.2"},
		},
	}
}

// TestOwns: what counts as kube-proxy's comes from its sets and link,
// never from the table alone.
func TestOwns(t *testing.T) {
	cases := []struct {
		name string
		k    ipvs.Key
		want bool
	}{
		{"cluster IP in KUBE-CLUSTER-IP", key("10.96.0.10", ipvs.TCP, 80), true},
		{"other port on a cluster IP", key("10.96.0.10", ipvs.TCP, 81), false},
		{"other protocol on a cluster IP", key("10.96.0.10", ipvs.UDP, 80), false},
		{"IPv6 cluster IP in KUBE-6-CLUSTER-IP", key("fd00:96::10", ipvs.UDP, 53), true},
		{"external IP", key("192.0.2.50", ipvs.TCP, 443), true},
		{"TCP node port on a node address", key("10.0.2.15", ipvs.TCP, 30080), true},
		{"TCP node port on another node address", key("192.168.50.1", ipvs.TCP, 30080), true},
		{"node port number on a service address", key("10.96.0.10", ipvs.TCP, 30080), false},
		{"UDP on a TCP node port", key("10.0.2.15", ipvs.UDP, 30080), false},
		{"IPv6 node port: no KUBE-6-NODE-PORT-TCP", key("fd00::15", ipvs.TCP, 30080), false},
		{"SCTP node port by address", key("10.0.2.15", ipvs.SCTP, 30090), true},
		{"SCTP node port on another address", key("10.0.2.16", ipvs.SCTP, 30090), false},
		{"foreign service", key("192.0.2.99", ipvs.TCP, 80), false},
		{"firewall mark", ipvs.Key{Family: ipvs.IPv4, FWMark: 30080}, false},
	}
	b := book()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := b.Owns(c.k); got != c.want {
				t.Errorf("Owns(%s) = %v, want %v", c.k, got, c.want)
			}
		})
	}
	if (kubeproxy.Bookkeeping{}).Owns(key("10.96.0.10", ipvs.TCP, 80)) {
		t.Error("without bookkeeping nothing is kube-proxy's")
	}
}

// TestNewPlan: what ipvsd owns is kept, the rest of kube-proxy's goes.
func TestNewPlan(t *testing.T) {
	kp := []ipvs.Key{key("10.96.0.11", ipvs.TCP, 80), key("10.0.2.15", ipvs.TCP, 30080), key("10.96.0.10", ipvs.TCP, 80)}
	owned := map[ipvs.Key]string{key("10.96.0.10", ipvs.TCP, 80): "ns/web:http", key("10.96.0.99", ipvs.TCP, 80): "ns/own:http"}
	want := kubeproxy.Plan{
		Adopted: []ipvs.Key{key("10.96.0.10", ipvs.TCP, 80)},
		Remove:  []ipvs.Key{key("10.0.2.15", ipvs.TCP, 30080), key("10.96.0.11", ipvs.TCP, 80)},
	}
	if diff := cmp.Diff(want, kubeproxy.NewPlan(kp, owned), eqAddr); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// node is a fake node kube-proxy left: its rules and sets (nft), its
// link with two VIPs, its virtual servers and a foreign one.
type node struct {
	fw    *firewalltest.Host
	nl    *netlinktest.Fake
	ipvs  *ipvstest.Fake
	link  *netlinkutil.Dummy
	owned map[ipvs.Key]string
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{fw: firewalltest.NewHost(), nl: netlinktest.New(), ipvs: ipvstest.New()}
	n.fw.KubeProxyIPVS(t, firewall.ModeNFT)
	n.link = netlinkutil.NewDummy(n.nl, kubeproxy.LinkName)
	if _, err := n.link.Ensure(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"10.96.0.10", "10.96.0.11"} {
		if err := n.link.AddAddress(netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []ipvs.Key{key("10.96.0.10", ipvs.TCP, 80), key("10.96.0.11", ipvs.TCP, 9000), key("10.0.2.15", ipvs.TCP, 30080), key("192.0.2.99", ipvs.TCP, 80)} {
		if err := n.ipvs.AddService(ipvs.Service{Key: k, Scheduler: "rr"}); err != nil {
			t.Fatal(err)
		}
	}
	// ipvsd adopted the ClusterIP.
	n.owned = map[ipvs.Key]string{key("10.96.0.10", ipvs.TCP, 80): "ns/web:http"}
	return n
}

func (n *node) deps(t *testing.T) kubeproxy.Deps {
	modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
	return kubeproxy.Deps{
		Firewall: func(ctx context.Context) (firewall.KubeProxyReport, error) {
			return firewall.CleanupKubeProxy(ctx, zaptest.NewLogger(t), modes, n.fw.CleanupTools(nil, modes...))
		},
		DeleteLink: n.link.Delete,
		Kernel:     n.ipvs,
		Log:        zaptest.NewLogger(t),
	}
}

func (n *node) services(t *testing.T) []ipvs.Key {
	t.Helper()
	table, err := n.ipvs.Dump()
	if err != nil {
		t.Fatal(err)
	}
	return kubeproxy.Keys(table)
}

// TestRemoveInOrder: read from the fakes' state, kube-proxy's virtual
// servers are told from the foreign one; the firewall goes before the
// link, the link before the unwanted virtual servers, and the adopted
// and foreign ones stay.
func TestRemoveInOrder(t *testing.T) {
	n := newNode(t)
	b, err := kubeproxy.Read(context.Background(), n.link, n.fw.IPSet())
	if err != nil {
		t.Fatal(err)
	}
	kp := b.Services(n.services(t))
	if want := []ipvs.Key{key("10.0.2.15", ipvs.TCP, 30080), key("10.96.0.10", ipvs.TCP, 80), key("10.96.0.11", ipvs.TCP, 9000)}; !cmp.Equal(kp, want, eqAddr) {
		t.Fatalf("kube-proxy's services %v, want %v", kp, want)
	}
	deps := n.deps(t)
	// Each step checks, from the fakes' state, that the ones before it
	// are done and the ones after it not begun.
	fw := deps.Firewall
	deps.Firewall = func(ctx context.Context) (firewall.KubeProxyReport, error) {
		if len(n.services(t)) != 4 || !n.hasLink() {
			t.Error("the firewall was not the first step")
		}
		return fw(ctx)
	}
	deps.DeleteLink = func() (bool, error) {
		if strings.Contains(n.fw.IPSet().SaveAll(), "KUBE-") {
			t.Error("kube-ipvs0 deleted while kube-proxy's sets remain")
		}
		if len(n.services(t)) != 4 {
			t.Error("virtual servers deleted before kube-ipvs0")
		}
		return n.link.Delete()
	}
	rep, err := kubeproxy.Remove(context.Background(), kubeproxy.NewPlan(kp, n.owned), deps)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{kubeproxy.StepFirewall, kubeproxy.StepLink, kubeproxy.StepServices}; !cmp.Equal(rep.Steps, want) {
		t.Errorf("steps %v, want %v", rep.Steps, want)
	}
	if want := []ipvs.Key{key("10.96.0.10", ipvs.TCP, 80), key("192.0.2.99", ipvs.TCP, 80)}; !cmp.Equal(n.services(t), want, eqAddr) {
		t.Errorf("left %v, want the adopted and the foreign one %v", n.services(t), want)
	}
	if !rep.LinkDeleted || rep.ServicesDeleted != 2 || len(rep.Firewall.Sets) != 5 || n.hasLink() {
		t.Errorf("report %+v", rep)
	}
	// Idempotent: again, nothing is left to do and nothing fails.
	rep, err = kubeproxy.Remove(context.Background(), kubeproxy.NewPlan(kp, n.owned), n.deps(t))
	if err != nil || rep.LinkDeleted || rep.ServicesDeleted != 0 {
		t.Errorf("second removal: %+v, %v", rep, err)
	}
}

// TestRemoveFailures: a failing step is reported by name and the later
// steps still run.
func TestRemoveFailures(t *testing.T) {
	errInjected := errors.New("injected")
	cases := []struct {
		name     string
		inject   func(n *node)
		wantStep string
		// linkGone and deleted: the later steps' effects.
		linkGone bool
		deleted  int
	}{
		{"firewall", func(n *node) { n.fw.FailLine("-X KUBE-SERVICES", errInjected) }, kubeproxy.StepFirewall, true, 2},
		{"link", func(n *node) { n.nl.FailNext("LinkDel", unix.EPERM) }, kubeproxy.StepLink, false, 2},
		{"service", func(n *node) {
			n.ipvs.FailNext(ipvstest.OpDeleteService, key("10.96.0.11", ipvs.TCP, 9000), unix.EPERM)
		}, kubeproxy.StepServices, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNode(t)
			b, err := kubeproxy.Read(context.Background(), n.link, n.fw.IPSet())
			if err != nil {
				t.Fatal(err)
			}
			c.inject(n)
			rep, err := kubeproxy.Remove(context.Background(), kubeproxy.NewPlan(b.Services(n.services(t)), n.owned), n.deps(t))
			if err == nil || !strings.Contains(err.Error(), c.wantStep) {
				t.Fatalf("got %v; want the failure of %q", err, c.wantStep)
			}
			if n.hasLink() == c.linkGone || rep.ServicesDeleted != c.deleted {
				t.Errorf("report %+v, link there: %v; want link gone %v, %d deleted", rep, n.hasLink(), c.linkGone, c.deleted)
			}
		})
	}
}

// TestReadWithoutLink: no kube-ipvs0 is no error; the sets still count.
func TestReadWithoutLink(t *testing.T) {
	n := newNode(t)
	if _, err := n.link.Delete(); err != nil {
		t.Fatal(err)
	}
	b, err := kubeproxy.Read(context.Background(), n.link, n.fw.IPSet())
	if err != nil {
		t.Fatal(err)
	}
	if b.Link || len(b.LinkAddrs) != 0 || !b.Owns(key("10.96.0.10", ipvs.TCP, 80)) {
		t.Errorf("bookkeeping %+v", b)
	}
}

func (n *node) hasLink() bool {
	_, err := n.nl.LinkByName(kubeproxy.LinkName)
	return err == nil
}

//go:build lab

package kube

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

const (
	// clusterCIDR6 is the pods' IPv6 network; the daemon of these tests
	// gets both families in --cluster-cidr, as a dual-stack cluster's
	// kube-proxy does.
	clusterCIDR6 = "fd00:244::/48"
	sctpPort     = 9100 // backends' SCTP greet-and-echo
)

// TestDataPlaneCoverage checks on the real kernel, against the real API
// server, what was unit-tested only: SCTP through a ClusterIP, a
// dual-stack Service, and topology hints with trafficDistribution
// PreferClose. Each case reads the kernel's table with ipvsadm and sends
// real traffic. It has its own daemon, with both families in
// --cluster-cidr; the tests of this package run one after another, and
// each daemon adopts what the one before it left.
func TestDataPlaneCoverage(t *testing.T) {
	admin := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	guestutil.EnsureNode(t, admin, nodeName, nodeIP, testNS)
	n := newLabNet(t)
	e := &env{t: t, c: admin, n: n, d: startIPVSD(t, "--cluster-cidr="+clusterCIDR+","+clusterCIDR6)}

	t.Run("SCTPClusterIP", e.sctpClusterIP)
	t.Run("DualStack", e.dualStack)
	t.Run("TopologyPreferClose", e.topologyPreferClose)
	t.Run("TopologyAgreesWithKubeProxy", e.topologyAgreesWithKubeProxy)
}

// sctpClusterIP: the lab kernel loads sctp, IPVS takes an SCTP virtual
// server, and real associations from a pod through the ClusterIP are
// answered by both backends (rr), their greeting and an echo included.
func (e *env) sctpClusterIP(t *testing.T) {
	// IPVS's SCTP support is built into ip_vs (CONFIG_IP_VS_PROTO_SCTP);
	// the sockets need the sctp module, which pulls in what it needs.
	guestutil.Run(t, "modprobe", "sctp")
	if mods, err := os.ReadFile("/proc/modules"); err != nil || !hasModule(string(mods), "sctp") || !hasModule(string(mods), "ip_vs") {
		t.Fatalf("sctp and ip_vs are not both loaded (%v):\n%s", err, mods)
	}
	for _, be := range []*nettest.Peer{e.n.be1, e.n.be2} {
		be.ServeSCTP(t, sctpPort, be.Name)
	}
	// Straight to a backend first: a failure here is the lab's SCTP, not
	// IPVS.
	if hello, c, err := e.n.pod.SCTPHello(hostPort(e.n.be1.Addr.String(), sctpPort), 10*time.Second); err != nil || hello != "be1" {
		t.Fatalf("SCTP from the pod straight to be1: %q, %v", hello, err)
	} else {
		c.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := apiserver.CreateService(ctx, e.c, apiserver.NewService(testNS, "cov-sctp", apiserver.SCTPPort("sctp", sctpPort, sctpPort)))
	if err != nil {
		t.Fatal(err)
	}
	slice := apiserver.NewEndpointSlice(svc, "cov-sctp-1", []apiserver.Endpoint{local(e.n.be1), remote(e.n.be2)}, apiserver.SliceSCTPPort("sctp", sctpPort))
	if _, err := apiserver.CreateEndpointSlice(ctx, e.c, slice); err != nil {
		t.Fatal(err)
	}
	vip := hostPort(svc.Spec.ClusterIP, sctpPort)
	block := e.programmedProto(t, "SCTP", vip, 2)
	for _, be := range []*nettest.Peer{e.n.be1, e.n.be2} {
		if !strings.Contains(block, hostPort(be.Addr.String(), sctpPort)) {
			t.Errorf("SCTP %s lacks real server %s:\n%s", vip, be, block)
		}
	}

	seen := map[string]int{}
	var open []*nettest.SCTPConn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	// The associations stay open until the end, so the kernel's table
	// shows them established while they are counted.
	open = append(open, firstSCTP(t, e.n.pod, vip))
	for i := range 6 {
		hello, c, err := e.n.pod.SCTPHello(vip, 10*time.Second)
		if err != nil {
			t.Fatalf("association %d through %s: %v\n%s", i, vip, err, ipvsadm(t))
		}
		open = append(open, c)
		seen[hello]++
	}
	if seen["be1"] != 3 || seen["be2"] != 3 {
		t.Errorf("6 SCTP associations through %s (rr) reached %v, want be1 and be2 3 times each", vip, seen)
	}
	conns := sctpConnections(t, svc.Spec.ClusterIP)
	if conns < len(open) {
		t.Errorf("the IPVS connection table has %d SCTP connections to %s, want at least %d:\n%s", conns, vip, len(open), ipvsConns(t))
	}
	t.Logf("6 SCTP associations through %s reached %v; %d SCTP entries in the IPVS connection table; the virtual server:\n%s",
		vip, seen, conns, virtualServer(t, "SCTP", vip))
}

// firstSCTP opens the first association through a virtual server just
// programmed, giving it three tries: an association that failed (the
// greeting never came) is logged with the kernel's connection table, so a
// lost first association shows in the log instead of failing the test on
// the lab's timing, and the rr count that follows starts from a working
// path.
func firstSCTP(t *testing.T, pod *nettest.Peer, vip string) *nettest.SCTPConn {
	t.Helper()
	var errs []error
	for try := range 3 {
		_, c, err := pod.SCTPHello(vip, 10*time.Second)
		if err == nil {
			return c
		}
		errs = append(errs, err)
		t.Logf("first SCTP association through %s, try %d: %v\n%s", vip, try+1, err, ipvsConns(t))
	}
	t.Fatalf("no SCTP association through %s in 3 tries: %v\n%s", vip, errors.Join(errs...), ipvsadm(t))
	return nil
}

func hasModule(procModules, name string) bool {
	for _, l := range strings.Split(procModules, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// ipvsConns is the kernel's connection table, `ipvsadm -Lnc`.
func ipvsConns(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-Lnc").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Lnc: %v\n%s", err, out)
	}
	return string(out)
}

// sctpConnections counts the SCTP entries of the IPVS connection table
// whose virtual address is vip.
func sctpConnections(t testing.TB, vip string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(ipvsConns(t), "\n") {
		// pro expire state source virtual destination
		if f := strings.Fields(l); len(f) >= 6 && f[0] == "SCTP" && strings.HasPrefix(f[4], vip+":") {
			n++
		}
	}
	return n
}

// dualStack: a RequireDualStack Service gets a ClusterIP of each family;
// with an EndpointSlice of each family, both virtual servers are
// programmed with their family's endpoints, and a dual-stack pod reaches
// both backends over each family with its own address of that family.
func (e *env) dualStack(t *testing.T) {
	guestutil.SetSysctl(t, "net/ipv6/conf/all/forwarding", "1") // ipvsd leaves it to the operator
	pod6 := e.n.pod.AddFamily(t, "fd00:244:0:9::2", "fd00:244:0:9::1").String()
	be6 := map[*nettest.Peer]string{
		e.n.be1: e.n.be1.AddFamily(t, "fd00:244:0:1::2", "fd00:244:0:1::1").String(),
		e.n.be2: e.n.be2.AddFamily(t, "fd00:244:0:2::2", "fd00:244:0:2::1").String(),
	}
	svc := e.service(t, "cov-dual", func(s *corev1.Service) {
		p := corev1.IPFamilyPolicyRequireDualStack
		s.Spec.IPFamilyPolicy = &p
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	}, local(e.n.be1), remote(e.n.be2))
	if len(svc.Spec.ClusterIPs) != 2 {
		t.Fatalf("RequireDualStack Service has ClusterIPs %v, want two", svc.Spec.ClusterIPs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slice6 := apiserver.NewEndpointSlice(svc, "cov-dual-v6", []apiserver.Endpoint{
		{IP: be6[e.n.be1], Node: nodeName}, {IP: be6[e.n.be2], Node: "other"},
	}, apiserver.SlicePort("http", webPort), apiserver.SlicePort("echo", echoPort))
	slice6.AddressType = discoveryv1.AddressTypeIPv6
	if _, err := apiserver.CreateEndpointSlice(ctx, e.c, slice6); err != nil {
		t.Fatal(err)
	}

	families := []struct {
		vip, client string
		backends    []string
	}{
		{svc.Spec.ClusterIPs[0], e.n.pod.Addr.String(), []string{e.n.be1.Addr.String(), e.n.be2.Addr.String()}},
		{svc.Spec.ClusterIPs[1], pod6, []string{be6[e.n.be1], be6[e.n.be2]}},
	}
	for _, f := range families {
		vip := hostPort(f.vip, 80)
		block := e.programmed(t, vip, 2)
		for _, be := range f.backends {
			if !strings.Contains(block, hostPort(be, webPort)) {
				t.Errorf("%s lacks real server %s:\n%s", vip, hostPort(be, webPort), block)
			}
		}
	}
	for _, f := range families {
		vip := hostPort(f.vip, 80)
		seen := backendsSeen(t, e.n.pod.NS, vip, 10, f.client)
		if seen["be1"] == 0 || seen["be2"] == 0 {
			t.Errorf("from a dual-stack pod via %s: backends %v, want both\n%s", vip, seen, ipvsadm(t))
		}
		t.Logf("from %s via %s: %v; the virtual server:\n%s", f.client, vip, seen, virtualServer(t, "TCP", vip))
	}
}

package kube

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
)

// costState holds n ClusterIP services ns/sN (three remote endpoints
// each) and ns/lb, a LoadBalancer with a Local policy and a health-check
// port, and translates them as the informer source would.
type costState struct {
	t    *testing.T
	s    *State
	last map[string]*ServiceState
}

func (c *costState) set(name string, eps ...string) {
	c.t.Helper()
	mod := func(s *corev1.Service) {
		s.Name = name
		if name == "lb" {
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.ClusterIPs = []string{"10.96.9.1"}
			s.Spec.Ports[0].NodePort, s.Spec.HealthCheckNodePort = 30080, 32000
			return
		}
		var i int
		fmt.Sscanf(name, "s%d", &i)
		s.Spec.ClusterIPs = []string{fmt.Sprintf("10.96.1.%d", i+1)}
	}
	st := Translate(service(mod), nil, &testNode, &testOpts, fixedMarks(7))
	if len(eps) > 0 {
		st = Translate(service(mod), sliceList(v4(name+"-1", 8080, eps...)), &testNode, &testOpts, fixedMarks(7))
	}
	c.s.Set("ns/"+name, &st, &desired.Update{})
	c.last["ns/"+name] = &st
}

// fresh is a State built from scratch with the same services: what the
// kept values must equal.
func (c *costState) fresh() *State {
	f := NewState()
	for _, n := range sortedNames(c.last) {
		st := *c.last[n]
		f.Set(n, &st, &desired.Update{})
	}
	return f
}

// TestStateSyncCostFollowsChange: the counts, the health-check ports and
// the firewall parts are kept as services change, so reading them after
// an endpoint change walks no service, and the firewall update of a
// change names the services whose firewall part changed, no other; the
// state the updates build still equals what a State built from scratch
// gives whole.
func TestStateSyncCostFollowsChange(t *testing.T) {
	c := &costState{t: t, s: NewState(), last: map[string]*ServiceState{}}
	for i := range 100 {
		c.set(fmt.Sprintf("s%d", i), "10.0.0.1", "10.0.0.2", "10.0.0.3")
	}
	c.set("lb", "10.0.1.1@", "10.0.1.2")
	base := firewall.Desired{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}}
	var kept firewall.State

	for _, step := range []struct {
		name   string
		change func()
		base   firewall.Desired
		whole  bool
		wantFW int // parts the update names
		wantHC bool
	}{
		{"first read", func() {}, base, true, 101, true},
		{"nothing changed", func() {}, base, false, 0, false},
		{"a remote endpoint replaced", func() { c.set("s7", "10.0.0.1", "10.0.0.2", "10.0.0.9") }, base, false, 0, false},
		{"an endpoint added", func() { c.set("s8", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4") }, base, false, 0, false},
		{"a local endpoint: a hairpin", func() { c.set("s9", "10.0.0.1", "10.0.0.2@") }, base, false, 1, false},
		{"the health check's local endpoints", func() { c.set("lb", "10.0.1.1@", "10.0.1.3@") }, base, false, 1, true},
		{"a service without endpoints", func() { c.set("s10") }, base, false, 1, false},
		{"a service deleted", func() { c.s.Set("ns/s11", nil, &desired.Update{}); delete(c.last, "ns/s11") }, base, false, 1, false},
		{"the base changed", func() {}, firewall.Desired{MasqueradeAll: true}, false, 0, false},
		{"a full resync", func() {}, base, true, 100, false},
	} {
		before := c.s.Translated
		step.change()
		u := c.s.Firewall(step.base, step.whole)
		kept.Apply(u)
		hc, hcChanged := c.s.HealthChecks()
		if len(u.Parts) != step.wantFW || hcChanged != step.wantHC {
			t.Errorf("%s: firewall update of %d parts, health checks changed %t; want %d, %t", step.name, len(u.Parts), hcChanged, step.wantFW, step.wantHC)
		}
		if n := c.s.Translated - before; n > 1 {
			t.Errorf("%s: %d services set, want at most one", step.name, n)
		}
		f := c.fresh()
		var fresh firewall.State
		fresh.Apply(f.Firewall(step.base, true))
		if diff := cmp.Diff(fresh.Desired(), kept.Desired(), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
			t.Errorf("%s: the firewall state the updates built differs from a fresh one (-fresh +kept):\n%s", step.name, diff)
		}
		wantHC, _ := f.HealthChecks()
		if diff := cmp.Diff(wantHC, hc); diff != "" {
			t.Errorf("%s: health checks (-fresh +kept):\n%s", step.name, diff)
		}
		wvs, wrs := f.Counts()
		if vs, rs := c.s.Counts(); vs != wvs || rs != wrs {
			t.Errorf("%s: counts %d, %d; a fresh state has %d, %d", step.name, vs, rs, wvs, wrs)
		}
	}
}

func sliceList(s ...*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice { return s }

func sortedNames(m map[string]*ServiceState) []string { return slices.Sorted(maps.Keys(m)) }

// TestStateAddressesOncePerSync: the Sets of one sync leave the sorted VIP
// list to Finish, which builds it once, instead of once per Set (which
// made a cold start quadratic in the number of Services).
func TestStateAddressesOncePerSync(t *testing.T) {
	s := NewState()
	var u desired.Update
	for i := range 100 {
		st := Translate(service(func(svc *corev1.Service) {
			svc.Name, svc.Spec.ClusterIPs = fmt.Sprintf("s%d", i), []string{fmt.Sprintf("10.96.1.%d", 100-i)}
		}), nil, &testNode, &testOpts, fixedMarks(7))
		s.Set(fmt.Sprintf("ns/s%d", i), &st, &u)
		if u.Addresses != nil {
			t.Fatalf("set %d built the address list", i)
		}
	}
	if !u.SetAddresses {
		t.Fatal("new VIPs and no address change")
	}
	s.Finish(&u)
	if len(u.Addresses) != 100 || !slices.IsSortedFunc(u.Addresses, netip.Addr.Compare) {
		t.Errorf("finished with %d addresses (sorted %t), want 100 sorted", len(u.Addresses), slices.IsSortedFunc(u.Addresses, netip.Addr.Compare))
	}
	u = desired.Update{}
	st := *s.svcs["ns/s5"]
	s.Set("ns/s5", &st, &u)
	s.Finish(&u)
	if u.SetAddresses || u.Addresses != nil {
		t.Errorf("an unchanged service resent %d addresses", len(u.Addresses))
	}
}

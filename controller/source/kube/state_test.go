package kube

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

func keysOf(vss []desired.VirtualServer) []string {
	var out []string
	for _, vs := range vss {
		out = append(out, vs.Key.String())
	}
	return out
}

func strs[T interface{ String() string }](xs []T) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

// applied is the desired state a reconciler holds once given Updates.
type applied map[ipvs.Key]desired.VirtualServer

// apply applies u the way desired.Update says: deletes, then sets.
func (a applied) apply(u desired.Update) {
	for _, k := range u.Delete {
		delete(a, k.Canonical())
	}
	for _, vs := range u.Set {
		a[vs.Key.Canonical()] = vs
	}
}

// services are a's virtual servers in key order.
func (a applied) services() []desired.VirtualServer {
	return slices.SortedFunc(maps.Values(a), func(x, y desired.VirtualServer) int { return x.Key.Compare(y.Key) })
}

func TestStateIncrementalUpdates(t *testing.T) {
	s := NewState()
	// What the Updates amount to, as the reconciler would hold it.
	have := applied{}
	set := func(name string, st *ServiceState, u *desired.Update) {
		s.Set(name, st, u)
		s.Finish(u)
		have.apply(*u)
	}
	tr := func(mods ...func(*corev1.Service)) *ServiceState {
		st := Translate(service(mods...), nil, &testNode, &testOpts, fixedMarks(7))
		return &st
	}
	ext := func(ip string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.ExternalIPs = []string{ip} }
	}
	other := func(s *corev1.Service) { s.Name, s.Spec.ClusterIPs = "other", []string{"10.96.0.2"} }

	var u desired.Update
	set("ns/web", tr(ext("198.51.100.1")), &u)
	if diff := cmp.Diff([]string{"TCP 10.96.0.1:80", "TCP 198.51.100.1:80"}, keysOf(u.Set)); diff != "" || len(u.Delete) != 0 {
		t.Errorf("first set: %s delete %v", diff, u.Delete)
	}
	if !u.SetAddresses || cmp.Diff([]string{"10.96.0.1", "198.51.100.1"}, strs(u.Addresses)) != "" {
		t.Errorf("addresses %v (set %t)", u.Addresses, u.SetAddresses)
	}

	// Another service claiming the same external IP:port loses it.
	u = desired.Update{}
	st := tr(other, ext("198.51.100.1"))
	set("ns/other", st, &u)
	if diff := cmp.Diff([]string{"TCP 10.96.0.2:80"}, keysOf(u.Set)); diff != "" {
		t.Errorf("conflicting set (-want +got):\n%s", diff)
	}
	if len(st.Problems) != 1 || st.Problems[0].Reason != ReasonConflict || st.Problems[0].Object.Name != "other" {
		t.Errorf("problems %+v", st.Problems)
	}
	var fws firewall.State
	fws.Apply(s.Firewall(firewall.Desired{}, true))
	if n := len(fws.Desired().Services); n != 3 {
		t.Errorf("firewall has %d services, want 3 (the conflicting one left out)", n)
	}

	// Dropping the external IP deletes its virtual server; the shared
	// address stays bound while ns/other still lists it.
	u = desired.Update{}
	set("ns/web", tr(), &u)
	if diff := cmp.Diff([]ipvs.Key{{Family: ipvs.IPv4, Address: netip.MustParseAddr("198.51.100.1"), Protocol: ipvs.TCP, Port: 80}}, u.Delete,
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("delete (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.96.0.1", "10.96.0.2", "198.51.100.1"}, strs(s.Addresses())); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}

	// Removing a service deletes what it owned, and an unchanged address
	// set is not resent.
	u = desired.Update{}
	set("ns/other", nil, &u)
	if diff := cmp.Diff([]string{"TCP 10.96.0.2:80"}, strs(u.Delete)); diff != "" || len(u.Set) != 0 {
		t.Errorf("removal (-want +got):\n%s (set %v)", diff, u.Set)
	}
	if diff := cmp.Diff([]string{"10.96.0.1"}, strs(u.Addresses)); diff != "" {
		t.Errorf("addresses after removal (-want +got):\n%s", diff)
	}
	u = desired.Update{}
	set("ns/web", tr(), &u)
	if u.SetAddresses {
		t.Errorf("unchanged service resent addresses %v", u.Addresses)
	}
	if diff := cmp.Diff([]string{"TCP 10.96.0.1:80"}, keysOf(have.services())); diff != "" {
		t.Errorf("desired (-want +got):\n%s", diff)
	}
}

func TestMarks(t *testing.T) {
	m := NewMarks(0x10, 0x11)
	a := m.Session("ns/a")
	ma, mb := a.Mark("ns/a:x/IPv4"), a.Mark("ns/a:y/IPv4")
	if ma == mb || ma < 0x10 || ma > 0x11 || mb < 0x10 || mb > 0x11 {
		t.Fatalf("marks %#x %#x, want the two distinct marks of the range", ma, mb)
	}
	a.Done()
	b := m.Session("ns/b")
	if got := b.Mark("ns/b:z/IPv4"); got != 0 {
		t.Errorf("exhausted range gave %#x, want 0", got)
	}
	b.Done()
	// The same key keeps its mark; an unused key frees its mark.
	a = m.Session("ns/a")
	if got := a.Mark("ns/a:x/IPv4"); got != ma {
		t.Errorf("mark changed from %#x to %#x", ma, got)
	}
	a.Done()
	b = m.Session("ns/b")
	if got := b.Mark("ns/b:z/IPv4"); got != mb {
		t.Errorf("freed mark not reused: got %#x, want %#x", got, mb)
	}
	b.Done()
	// Hash placement makes a key's mark independent of allocation order.
	m1, m2 := NewMarks(0, 0), NewMarks(0, 0)
	s1, s2 := m1.Session("x"), m2.Session("x")
	s2.Mark("ns/other:p/IPv4")
	if a, b := s1.Mark("ns/web:http/IPv4"), s2.Mark("ns/web:http/IPv4"); a != b {
		t.Errorf("restart-stable mark: %#x vs %#x", a, b)
	}
}

// TestStateOneKeyTwiceInAService: a service that names one address and
// port twice (an external IP equal to its cluster IP) hands the
// reconciler one virtual server for it, not two that fight, and says so.
func TestStateOneKeyTwiceInAService(t *testing.T) {
	s := NewState()
	svc := service(func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"10.96.0.1"} })
	st := Translate(svc, []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")}, &testNode, &testOpts, fixedMarks(0x1234))
	var u desired.Update
	s.Set("ns/web", &st, &u)
	seen := map[string]int{}
	for _, vs := range u.Set {
		seen[vs.Key.Canonical().String()]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s handed over %d times", k, n)
		}
	}
	if !slices.ContainsFunc(st.Problems, func(p Problem) bool { return p.Reason == ReasonConflict && strings.Contains(p.Message, "named twice") }) {
		t.Errorf("problems %v: want one naming the duplicate", st.Problems)
	}
}

// TestStateHandsRealServersOver: Set hands a service's real servers to the
// reconciler in the Update and keeps none itself (one copy of them in the
// daemon, not two), yet counts them; a state it holds already is
// unchanged, and sends nothing again.
func TestStateHandsRealServersOver(t *testing.T) {
	s := NewState()
	st := Translate(service(), sliceList(v4("web-1", 8080, "10.0.0.1", "10.0.0.2", "10.0.0.3")), &testNode, &testOpts, fixedMarks(7))
	var u desired.Update
	s.Set("ns/web", &st, &u)
	sent := 0
	for _, vs := range u.Set {
		sent += len(vs.Destinations)
	}
	held := 0
	for _, vs := range s.svcs["ns/web"].VirtualServers {
		held += len(vs.Destinations)
	}
	if _, rs := s.Counts(); sent != 3 || held != 0 || rs != 3 {
		t.Errorf("the update carries %d real servers, the state holds %d and counts %d; want 3, 0 and 3", sent, held, rs)
	}
	again := *s.svcs["ns/web"]
	u = desired.Update{}
	s.Set("ns/web", &again, &u)
	if _, rs := s.Counts(); len(u.Set) != 0 || len(u.Delete) != 0 || rs != 3 {
		t.Errorf("setting the held state again sent %d and deleted %d virtual servers, counts %d real servers; want 0, 0 and 3", len(u.Set), len(u.Delete), rs)
	}
}

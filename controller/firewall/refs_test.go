package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/ipvs"
)

// TestChangeRefs: the lines an update writes are those of the elements
// that gain their first owner, lose their last, or change their lowest
// mark; an element another owner still wants is never deleted. Each case
// also checks that the counts left equal those of the state after the
// update counted from scratch.
func TestChangeRefs(t *testing.T) {
	opts := Desired{NodePortCIDRs: prefixes("192.168.1.10/32"), ClusterCIDRs: prefixes("10.244.0.0/16")}
	opts.Defaults()
	cip := func(addr string, port uint16) VirtualServer {
		return VirtualServer{Key: key(addr, ipvs.TCP, port), Kind: ClusterIP, HasEndpoints: true}
	}
	np := func(port uint16, mark uint32, local bool) VirtualServer {
		return VirtualServer{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: port}, Kind: NodePort,
			HasEndpoints: true, LocalOnly: true, LocalFWMark: mark, HasLocalEndpoints: local}
	}
	svc := func(vss ...VirtualServer) Part { return Part{Services: vss} }
	hp := Hairpin{Backend: netip.MustParseAddr("10.244.1.5"), Protocol: ipvs.TCP, Port: 8080}
	for _, tc := range []struct {
		name   string
		before map[string]Part
		update map[string]Part
		want   []string
	}{
		{"a service added", map[string]Part{"a": svc(cip("10.96.0.1", 80))},
			map[string]Part{"b": svc(cip("10.96.0.2", 80))},
			[]string{"add ipvsd-vips-v4 10.96.0.2", "add ipvsd-vs-v4 10.96.0.2,tcp:80"}},
		{"a service removed", map[string]Part{"a": svc(cip("10.96.0.1", 80)), "b": svc(cip("10.96.0.2", 80))},
			map[string]Part{"b": {}},
			[]string{"del ipvsd-vips-v4 10.96.0.2", "del ipvsd-vs-v4 10.96.0.2,tcp:80"}},
		{"a VIP another service keeps", map[string]Part{"a": svc(cip("10.96.0.1", 80)), "b": svc(cip("10.96.0.1", 443))},
			map[string]Part{"b": {}},
			[]string{"del ipvsd-vs-v4 10.96.0.1,tcp:443"}},
		{"one node port claimed twice, one claim gone", map[string]Part{"a": svc(np(30080, 0, false)), "b": svc(np(30080, 0, false))},
			map[string]Part{"a": {}},
			nil},
		{"the last claim gone", map[string]Part{"a": svc(np(30080, 0, false))},
			map[string]Part{"a": {}},
			[]string{"del ipvsd-np-local-v4 192.168.1.10,tcp:30080", "del ipvsd-np-v4 192.168.1.10,tcp:30080"}},
		{"the lower mark's owner goes: the higher takes over in place",
			map[string]Part{"a": svc(np(30080, 0x11, true)), "b": svc(np(30080, 0x22, true))},
			map[string]Part{"a": {}},
			[]string{"add ipvsd-np-fwmark-v4 192.168.1.10,tcp:30080 skbmark 0x22/0xbfff"}},
		{"the higher mark's owner goes: nothing", map[string]Part{"a": svc(np(30080, 0x11, true)), "b": svc(np(30080, 0x22, true))},
			map[string]Part{"b": {}},
			nil},
		{"no local endpoint left: the drop bit", map[string]Part{"a": svc(np(30080, 0x11, true))},
			map[string]Part{"a": svc(np(30080, 0x11, false))},
			[]string{"add ipvsd-np-fwmark-v4 192.168.1.10,tcp:30080 skbmark 0x8000/0xbfff"}},
		{"a shared hairpin", map[string]Part{"a": {Hairpins: []Hairpin{hp}}, "b": {Hairpins: []Hairpin{hp}}},
			map[string]Part{"a": {}},
			nil},
		{"endpoints gone", map[string]Part{"a": svc(cip("10.96.0.1", 80))},
			map[string]Part{"a": svc(VirtualServer{Key: key("10.96.0.1", ipvs.TCP, 80), Kind: ClusterIP})},
			[]string{"add ipvsd-vs-noep-v4 10.96.0.1,tcp:80"}},
		{"a VIP moved between owners in one update", map[string]Part{"a": svc(cip("10.96.0.1", 80))},
			map[string]Part{"a": {}, "b": svc(cip("10.96.0.1", 80))},
			nil},
		{"a source range replaced", map[string]Part{"a": svc(VirtualServer{Key: key("198.51.100.7", ipvs.TCP, 443), Kind: LoadBalancerIP,
			HasEndpoints: true, SourceRanges: prefixes("203.0.113.0/24", "0.0.0.0/0")})},
			map[string]Part{"a": svc(VirtualServer{Key: key("198.51.100.7", ipvs.TCP, 443), Kind: LoadBalancerIP,
				HasEndpoints: true, SourceRanges: prefixes("203.0.113.0/24", "192.0.2.0/24")})},
			[]string{"add ipvsd-lb-src-v4 198.51.100.7,tcp:443,192.0.2.0/24",
				"del ipvsd-lb-src-v4 198.51.100.7,tcp:443,0.0.0.0/1", "del ipvsd-lb-src-v4 198.51.100.7,tcp:443,128.0.0.0/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkChangeRefs(t, &opts, tc.before, tc.update, tc.want) })
	}
}

// checkChangeRefs applies update to the counts of before and compares
// the lines with want, the counts left with a fresh count of the state
// after, and what they choose with DesiredSets.
func checkChangeRefs(t *testing.T, opts *Desired, before, update map[string]Part, want []string) {
	t.Helper()
	makers := []*entryMaker{newEntryMaker(opts, ipvs.IPv4), newEntryMaker(opts, ipvs.IPv6)}
	st := State{Options: *opts, Parts: before}
	refs := countRefs(makers, &st)
	var old, new []setEntry
	for o, p := range update {
		prev := st.Parts[o]
		old = append(old, partEntries(makers, prev.Services, prev.Hairpins)...)
		new = append(new, partEntries(makers, p.Services, p.Hairpins)...)
	}
	add, del := changeRefs(refs, old, new)
	var got []string
	for _, se := range add {
		got = append(got, fmt.Sprintf("add %s %s%s", se.Set, se.Entry, se.Entry.Extensions()))
	}
	for _, se := range del {
		got = append(got, fmt.Sprintf("del %s %s", se.Set, se.Entry))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	after := State{Options: *opts}
	after.Apply(Update{Options: *opts, Whole: true, Parts: before})
	after.Apply(Update{Options: *opts, Parts: update})
	if diff := cmp.Diff(countRefs(makers, &after), refs, cmp.AllowUnexported(elemKey{}, variant{}),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("counts left differ from a fresh count (-fresh +left):\n%s", diff)
	}
	// What the counts choose is what DesiredSets computes.
	d := after.Desired()
	var fresh, chosen []string
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		for _, s := range DesiredSets(&d, f) {
			if s.Name == SetName(roleCluster, f) {
				continue
			}
			for _, e := range s.Entries {
				fresh = append(fresh, s.Name+" "+e.String()+e.Extensions())
			}
		}
	}
	for k := range refs {
		e, _ := refs.chosen(k)
		chosen = append(chosen, k.set+" "+e.String()+e.Extensions())
	}
	slices.Sort(fresh)
	slices.Sort(chosen)
	if diff := cmp.Diff(fresh, chosen); diff != "" {
		t.Errorf("chosen entries differ from DesiredSets (-DesiredSets +chosen):\n%s", diff)
	}
}

package desired_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestNormalizeKeep: a virtual server whose real servers are normalized
// already keeps its slice; one that needs sorting or canonical addresses
// gets a normalized copy, as Normalize gives, and the input is untouched.
func TestNormalizeKeep(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	mapped := netip.AddrFrom16(a.As16())
	dest := func(ad netip.Addr) ipvs.Destination {
		return ipvs.Destination{DestKey: ipvs.DestKey{Address: ad, Port: 80}, Weight: 1}
	}
	for _, tc := range []struct {
		name  string
		dests []ipvs.Destination
		kept  bool
	}{
		{"sorted", []ipvs.Destination{dest(a), dest(b)}, true},
		{"none", nil, true},
		{"unsorted", []ipvs.Destination{dest(b), dest(a)}, false},
		{"mapped address", []ipvs.Destination{dest(mapped)}, false},
	} {
		in := desired.VirtualServer{Service: ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, Address: a, Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr"}, Destinations: tc.dests}
		orig := slices.Clone(tc.dests)
		got := in.NormalizeKeep()
		if want := in.Normalize(); !desired.EqualNormalized(&got, &want) {
			t.Errorf("%s: %+v, want what Normalize gives: %+v", tc.name, got, want)
		}
		kept := len(tc.dests) == 0 || &got.Destinations[0] == &tc.dests[0]
		if kept != tc.kept || !slices.Equal(tc.dests, orig) {
			t.Errorf("%s: slice kept %t, want %t; input changed: %t", tc.name, kept, tc.kept, !slices.Equal(tc.dests, orig))
		}
	}
}

package ipvs

import (
	"net/netip"
	"slices"
	"testing"
)

// Compare is a total order: address services before fwmark services, then
// family, address, protocol, port, mark; equal keys compare 0.
func TestKeyCompareOrder(t *testing.T) {
	a := netip.MustParseAddr
	want := []Key{
		{Family: IPv4, Address: a("10.0.0.1"), Protocol: TCP, Port: 80},
		{Family: IPv4, Address: a("10.0.0.1"), Protocol: TCP, Port: 443},
		{Family: IPv4, Address: a("10.0.0.1"), Protocol: UDP, Port: 53},
		{Family: IPv4, Address: a("10.0.0.2"), Protocol: TCP, Port: 80},
		{Family: IPv6, Address: a("2001:db8::1"), Protocol: TCP, Port: 80},
		{Family: IPv4, FWMark: 1},
		{Family: IPv4, FWMark: 7},
		{Family: IPv6, FWMark: 1},
	}
	for i := range want {
		for j := range want {
			got := want[i].Compare(want[j])
			exp := 0
			if i < j {
				exp = -1
			} else if i > j {
				exp = 1
			}
			if got != exp || want[i].Less(want[j]) != (exp < 0) {
				t.Errorf("%s vs %s: Compare %d, Less %v; want %d", want[i], want[j], got, want[i].Less(want[j]), exp)
			}
		}
	}
	shuffled := slices.Clone(want)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, Key.Compare)
	if !slices.Equal(shuffled, want) {
		t.Errorf("sorted %v", shuffled)
	}
}

func TestDestKeyCompareOrder(t *testing.T) {
	a := netip.MustParseAddr
	want := []DestKey{{a("10.0.0.1"), 80}, {a("10.0.0.1"), 8080}, {a("10.0.0.2"), 1}, {a("2001:db8::1"), 80}}
	for i := range want {
		for j := range want {
			if got := want[i].Compare(want[j]); (got < 0) != (i < j) || (got == 0) != (i == j) {
				t.Errorf("%s vs %s: Compare %d", want[i], want[j], got)
			}
		}
	}
}

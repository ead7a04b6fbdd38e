package ipvs

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestServiceKeyEncoding: both kinds of request name a service with the
// bytes the nl.RtAttr tree of moby/ipvs's fillService built for the key
// (family, then mark, or protocol, address and port), captured from it.
func TestServiceKeyEncoding(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{Key{Family: IPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
			"24 00 01 00 06 00 01 00 02 00 00 00 06 00 02 00 06 00 00 00 08 00 03 00 c0 00 02 01 06 00 04 00 00 50 00 00"},
		{Key{Family: IPv6, Protocol: UDP, Address: netip.MustParseAddr("2001:db8::53"), Port: 53},
			"30 00 01 00 06 00 01 00 0a 00 00 00 06 00 02 00 11 00 00 00 14 00 03 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 53 06 00 04 00 00 35 00 00"},
		{Key{Family: IPv4, Protocol: SCTP, Address: netip.MustParseAddr("198.51.100.7"), Port: 3868},
			"24 00 01 00 06 00 01 00 02 00 00 00 06 00 02 00 84 00 00 00 08 00 03 00 c6 33 64 07 06 00 04 00 0f 1c 00 00"},
		{Key{Family: IPv4, FWMark: 42}, "14 00 01 00 06 00 01 00 02 00 00 00 08 00 05 00 2a 00 00 00"},
		{Key{Family: IPv6, FWMark: 7}, "14 00 01 00 06 00 01 00 0a 00 00 00 08 00 05 00 07 00 00 00"},
	} {
		// After a request's headers: 20 bytes, aligned.
		if got := fmt.Sprintf("% x", appendServiceKey(make([]byte, 20), tc.k)[20:]); got != tc.want {
			t.Errorf("%s appended:\n%s\nwant\n%s", tc.k, got, tc.want)
		}
		if got := fmt.Sprintf("% x", serviceKeyAttr(tc.k).Serialize()); got != tc.want {
			t.Errorf("%s as nl.RtAttr:\n%s\nwant\n%s", tc.k, got, tc.want)
		}
	}
}

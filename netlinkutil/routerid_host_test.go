package netlinkutil

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// TestFirstIPv4Toward finds the address of the interface a peer is
// reached through, in this test's private namespace.
func TestFirstIPv4Toward(t *testing.T) {
	nettest.NewPeer(t, "nlu-rid1", "10.78.1.1", "10.78.1.2")
	nettest.NewPeer(t, "nlu-rid2", "10.78.2.1", "10.78.2.2")
	for peer, want := range map[string]string{"10.78.1.1": "10.78.1.2", "10.78.2.1": "10.78.2.2"} {
		got, err := FirstIPv4Toward(netip.MustParseAddr(peer))
		if err != nil || got.String() != want {
			t.Errorf("toward %s: %v, %v; want %s", peer, got, err, want)
		}
	}
	if _, err := FirstIPv4Toward(netip.MustParseAddr("192.0.2.99")); err == nil || !strings.Contains(err.Error(), "192.0.2.99") {
		t.Errorf("toward an unrouted address: %v, want an error naming it", err)
	}
}

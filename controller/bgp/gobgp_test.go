package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestGoBGPLogsOnlyWarnings: at info, GoBGP's own per-step lines (which
// the Announcer replaces with its own) stay out of the daemon's log.
func TestGoBGPLogsOnlyWarnings(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	g := NewGoBGP(zap.New(core), nil)
	ctx := context.Background()
	cfg := Config{ASN: 64512, RouterID: netip.MustParseAddr("10.11.1.2"), Peers: []Peer{{
		Address: netip.MustParseAddr("127.0.0.1"), ASN: 64500, Port: 1, HoldTime: 3 * time.Second}}}
	if err := g.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, e := range logs.All() {
		if e.LoggerName == "gobgp" && e.Level < zap.WarnLevel {
			t.Errorf("GoBGP logged at %s: %s", e.Level, e.Message)
		}
	}
}

package app

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/bgp"
	"github.com/ipvsd/ipvsd/controller/bgp/bgptest"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
)

const bgpFile = `
services: []
bgp:
  asn: 64512
  peers:
    - {address: 10.11.1.1, asn: 64500, holdTime: 3s, password: pw, multihop: 2, sourceAddress: 10.11.1.2}
    - {address: 10.11.2.1, asn: 64501, port: 1179, gracefulRestart: false}
  communities: ["64512:100"]
`

func TestBGPConfig(t *testing.T) {
	c, err := config.Parse([]byte(bgpFile))
	if err != nil {
		t.Fatal(err)
	}
	var asked netip.Addr
	got, err := bgpConfig(c.BGP, func(peer netip.Addr) (netip.Addr, error) {
		asked = peer
		return netip.MustParseAddr("10.11.1.2"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &bgp.Config{ASN: 64512, RouterID: netip.MustParseAddr("10.11.1.2"), Communities: []uint32{64512<<16 | 100}, ForwardingPreserved: true,
		Peers: []bgp.Peer{
			{Address: netip.MustParseAddr("10.11.1.1"), ASN: 64500, Port: 179, HoldTime: 3 * time.Second, Password: "pw", Multihop: 2,
				SourceAddress: netip.MustParseAddr("10.11.1.2"), GracefulRestart: true, RestartTime: 120 * time.Second},
			{Address: netip.MustParseAddr("10.11.2.1"), ASN: 64501, Port: 1179, HoldTime: 90 * time.Second, RestartTime: 120 * time.Second},
		}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("speaker config (-want +got):\n%s", diff)
	}
	if asked != netip.MustParseAddr("10.11.1.1") {
		t.Errorf("router ID looked up toward %s, want the first peer", asked)
	}
	if _, err := bgpConfig(c.BGP, func(netip.Addr) (netip.Addr, error) { return netip.Addr{}, errors.New("no route") }); err == nil ||
		!strings.Contains(err.Error(), "bgp.routerID") {
		t.Errorf("router ID not found: %v, want an error naming bgp.routerID", err)
	}
	if c, err := bgpConfig(nil, nil); c != nil || err != nil {
		t.Errorf("no bgp: section: %v, %v", c, err)
	}
}

// TestStandaloneCheckBGP: --check rejects bad bgp: settings with their path.
func TestStandaloneCheckBGP(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(bgpFile, "asn: 64501", "asn: 0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Execute(context.Background(), []string{"standalone", "--config", bad, "--check"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "bgp.peers[1].asn: must be an AS number 1-4294967295") {
		t.Errorf("exit %d, want 1 naming bgp.peers[1].asn:\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestStatusCommand reads the daemon's /status as `ipvsd status` does.
func TestStatusCommand(t *testing.T) {
	log := zaptest.NewLogger(t)
	var ann *bgp.Announcer
	sp := bgptest.New(func(st bgp.PeerStatus) { ann.PeerChanged(st) })
	ann = bgp.NewAnnouncer(log, sp, nil)
	part := &bgpPart{log: log, ann: ann, ctx: context.Background()}
	srv := httptest.NewServer(part.statusHandler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	status := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := Execute(context.Background(), append([]string{"status", "--metrics-addr", addr}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("ipvsd status: exit %d\n%s", code, stderr.String())
		}
		return stdout.String()
	}
	if got := status(); got != "BGP: off (no bgp: section in the config)\n" {
		t.Errorf("without bgp:\n%s", got)
	}
	c, err := config.Parse([]byte(bgpFile))
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bgpConfig(c.BGP, func(netip.Addr) (netip.Addr, error) { return netip.MustParseAddr("10.11.1.2"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := ann.SetConfig(context.Background(), bc); err != nil {
		t.Fatal(err)
	}
	part.announce([]netip.Addr{netip.MustParseAddr("192.0.2.10")})
	want := `BGP: AS 64512, router ID 10.11.1.2
Peer       AS     State   For  Graceful restart  Flaps
10.11.1.1  64500  active  -    no                0
10.11.2.1  64501  active  -    no                0
Announced routes: 1
  192.0.2.10/32
`
	if diff := cmp.Diff(want, status()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if got := status("-o", "json"); !strings.Contains(got, `"announced":["192.0.2.10/32"]`) {
		t.Errorf("status -o json:\n%s", got)
	}
}

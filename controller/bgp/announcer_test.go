package bgp_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ipvsd/ipvsd/controller/bgp"
	"github.com/ipvsd/ipvsd/controller/bgp/bgptest"
	"github.com/ipvsd/ipvsd/internal/golden"
)

var (
	r1, r2 = netip.MustParseAddr("10.11.1.1"), netip.MustParseAddr("10.11.2.1")
	vip1   = netip.MustParseAddr("192.0.2.10")
	vip2   = netip.MustParseAddr("192.0.2.11")
	vip6   = netip.MustParseAddr("2001:db8::10")
)

func config(peers ...netip.Addr) *bgp.Config {
	c := &bgp.Config{ASN: 64512, RouterID: netip.MustParseAddr("10.11.1.2"), Communities: []uint32{64512<<16 | 100}}
	for i, p := range peers {
		// The second peer has no graceful restart.
		c.Peers = append(c.Peers, bgp.Peer{Address: p, ASN: 64500, Port: 179, HoldTime: 3 * time.Second,
			GracefulRestart: i == 0, RestartTime: 120 * time.Second})
	}
	return c
}

func prefixes(ss ...string) []netip.Prefix {
	out := []netip.Prefix{}
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

type fixture struct {
	t       *testing.T
	a       *bgp.Announcer
	sp      *bgptest.Speaker
	logs    *observer.ObservedLogs
	reg     *prometheus.Registry
	ctx     context.Context
	lastLog int
}

func newFixture(t *testing.T) *fixture {
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewRegistry()
	f := &fixture{t: t, logs: logs, reg: reg, ctx: context.Background()}
	var a *bgp.Announcer
	f.sp = bgptest.New(func(st bgp.PeerStatus) { a.PeerChanged(st) })
	a = bgp.NewAnnouncer(zap.New(core), f.sp, bgp.NewMetrics(reg))
	f.a = a
	return f
}

// held checks what the router at addr holds from us.
func (f *fixture) held(addr netip.Addr, want []netip.Prefix, wantStale bool) {
	f.t.Helper()
	got, stale := f.sp.Held(addr)
	if got == nil {
		got = []netip.Prefix{}
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" || stale != wantStale {
		f.t.Errorf("router %s holds (-want +got):\n%s\nstale %t, want %t", addr, diff, stale, wantStale)
	}
}

// newLogs returns the messages logged since the last call.
func (f *fixture) newLogs() []string {
	all := f.logs.All()
	var out []string
	for _, e := range all[f.lastLog:] {
		if e.Level >= zap.InfoLevel {
			out = append(out, e.Message)
		}
	}
	f.lastLog = len(all)
	return out
}

func (f *fixture) step(what string, err error, wantLogs ...string) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
	if diff := cmp.Diff(wantLogs, f.newLogs()); diff != "" {
		f.t.Errorf("%s: logs (-want +got):\n%s", what, diff)
	}
}

func TestAnnouncerLifecycle(t *testing.T) {
	f := newFixture(t)
	f.step("configure", f.a.SetConfig(f.ctx, config(r1, r2)))
	if _, started := f.sp.Config(); started {
		t.Fatal("sessions opened before the first sync")
	}
	f.step("first sync", f.a.SetVIPs(f.ctx, []netip.Addr{vip2, vip1, vip1}),
		"bgp: announced 192.0.2.10/32", "bgp: announced 192.0.2.11/32", "bgp: sessions starting")
	f.held(r1, prefixes(), false)
	f.sp.Establish(r1)
	f.sp.Establish(r2)
	f.step("established", nil, "bgp: peer 10.11.1.1 established", "bgp: peer 10.11.2.1 established")
	f.held(r1, prefixes("192.0.2.10/32", "192.0.2.11/32"), false)

	f.step("unchanged sync", f.a.SetVIPs(f.ctx, []netip.Addr{vip1, vip2}))
	f.step("vip2 lost its last backend", f.a.SetVIPs(f.ctx, []netip.Addr{vip1, vip6}),
		"bgp: withdrawn 192.0.2.11/32", "bgp: announced 2001:db8::10/128")
	f.held(r2, prefixes("192.0.2.10/32", "2001:db8::10/128"), false)
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(`
# HELP ipvsd_bgp_announced_routes Routes (VIPs of services able to take traffic) announced over BGP.
# TYPE ipvsd_bgp_announced_routes gauge
ipvsd_bgp_announced_routes 2
# HELP ipvsd_bgp_peer_established 1 while the BGP session with the peer is established, else 0.
# TYPE ipvsd_bgp_peer_established gauge
ipvsd_bgp_peer_established{peer="10.11.1.1"} 1
ipvsd_bgp_peer_established{peer="10.11.2.1"} 1
# HELP ipvsd_bgp_route_announced 1 for each prefix announced over BGP.
# TYPE ipvsd_bgp_route_announced gauge
ipvsd_bgp_route_announced{prefix="192.0.2.10/32"} 1
ipvsd_bgp_route_announced{prefix="2001:db8::10/128"} 1
# HELP ipvsd_bgp_session_flaps_total BGP sessions with the peer that were established and went down.
# TYPE ipvsd_bgp_session_flaps_total counter
ipvsd_bgp_session_flaps_total{peer="10.11.1.1"} 0
ipvsd_bgp_session_flaps_total{peer="10.11.2.1"} 0
`)); err != nil {
		t.Error(err)
	}

	f.sp.Drop(r2)
	f.sp.Establish(r2)
	f.step("flap", nil, "bgp: peer 10.11.2.1 down", "bgp: peer 10.11.2.1 established")
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(`
# HELP ipvsd_bgp_session_flaps_total BGP sessions with the peer that were established and went down.
# TYPE ipvsd_bgp_session_flaps_total counter
ipvsd_bgp_session_flaps_total{peer="10.11.1.1"} 0
ipvsd_bgp_session_flaps_total{peer="10.11.2.1"} 1
`), "ipvsd_bgp_session_flaps_total"); err != nil {
		t.Error(err)
	}

	// SIGTERM: the graceful-restart peer keeps the routes, stale; the
	// other withdraws them.
	f.step("stop", f.a.Stop(f.ctx, true),
		"bgp: peer 10.11.1.1 keeps our routes (graceful restart)", "bgp: peer 10.11.2.1: withdrawing every route")
	f.held(r1, prefixes("192.0.2.10/32", "2001:db8::10/128"), true)
	f.held(r2, prefixes(), false)
}

func TestAnnouncerReloads(t *testing.T) {
	f := newFixture(t)
	f.step("start", errJoin(f.a.SetConfig(f.ctx, config(r1)), f.a.SetVIPs(f.ctx, []netip.Addr{vip1})),
		"bgp: announced 192.0.2.10/32", "bgp: sessions starting")
	f.sp.Establish(r1)
	f.newLogs()

	f.step("peer added", f.a.SetConfig(f.ctx, config(r1, r2)))
	cfg, _ := f.sp.Config()
	if len(cfg.Peers) != 2 {
		t.Errorf("peers after the reload: %v, want 2", cfg.Peers)
	}
	f.held(r1, prefixes("192.0.2.10/32"), false) // untouched by the other's arrival

	f.step("peer removed", f.a.SetConfig(f.ctx, config(r2)))
	f.held(r1, prefixes(), false)
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(`
# HELP ipvsd_bgp_peer_established 1 while the BGP session with the peer is established, else 0.
# TYPE ipvsd_bgp_peer_established gauge
ipvsd_bgp_peer_established{peer="10.11.2.1"} 0
`), "ipvsd_bgp_peer_established"); err != nil {
		t.Error(err)
	}

	f.step("bgp: removed", f.a.SetConfig(f.ctx, nil), "bgp: withdrawn 192.0.2.10/32", "bgp: off (no bgp: section): every session closed")
	if _, started := f.sp.Config(); started {
		t.Error("sessions still open without a bgp: section")
	}
	f.step("bgp: back", f.a.SetConfig(f.ctx, config(r1)), "bgp: announced 192.0.2.10/32", "bgp: sessions starting")

	bad := config(r1)
	bad.RouterID = netip.MustParseAddr("2001:db8::1")
	if err := f.a.SetConfig(f.ctx, bad); err == nil || !strings.Contains(err.Error(), "router-id must be an IPv4 address") {
		t.Errorf("SetConfig with an IPv6 router ID: %v, want GoBGP's refusal", err)
	}
}

func errJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func TestStatusRendering(t *testing.T) {
	f := newFixture(t)
	var b strings.Builder
	st, err := f.a.Status(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bgp.Render(&b, st, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	b.WriteString("---\n")
	if err := f.a.SetConfig(f.ctx, config(r1, r2)); err != nil {
		t.Fatal(err)
	}
	if st, err = f.a.Status(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := bgp.Render(&b, st, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	b.WriteString("---\n")
	if err := f.a.SetVIPs(f.ctx, []netip.Addr{vip1, vip6}); err != nil {
		t.Fatal(err)
	}
	f.sp.Establish(r1)
	st, err = f.a.Status(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bgp.Render(&b, st, time.Unix(3725, 0)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/status.golden", b.String())
}

package dataplane

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

func tcpKey(s string) ipvs.Key {
	a := netip.MustParseAddrPort(s)
	return ipvs.Key{Family: ipvs.FamilyOf(a.Addr()), Address: a.Addr(), Protocol: ipvs.TCP, Port: a.Port()}
}

// TestVirtualServerMetrics: the per-virtual-server series are read from
// the kernel at each scrape, for our services only, with the 64-bit
// counters exact past 2^32 and the connection gauges summed over real
// servers without 32-bit wrap-around. A failed dump is reported by the
// scrape error gauge, with no per-virtual-server series, and the next
// good scrape brings them back.
func TestVirtualServerMetrics(t *testing.T) {
	const g = 1 << 32
	web, dns, foreign := tcpKey("192.0.2.10:80"), tcpKey("[2001:db8::53]:53"), tcpKey("198.51.100.1:22")
	dns.Protocol = ipvs.UDP
	gone := tcpKey("192.0.2.11:443") // ours, but not (or no longer) in the kernel
	be := func(s string) ipvs.DestKey {
		a := netip.MustParseAddrPort(s)
		return ipvs.DestKey{Address: a.Addr(), Port: a.Port()}
	}

	k := ipvstest.New()
	for _, key := range []ipvs.Key{web, dns, foreign} {
		must(t, k.AddService(ipvs.Service{Key: key, Scheduler: "rr"}))
	}
	for _, d := range []ipvs.DestKey{be("10.1.0.1:8080"), be("10.1.0.2:8080")} {
		must(t, k.AddDestination(web, ipvs.Destination{DestKey: d, Weight: 1}))
		// Two real servers at 3e9 each: the sum only fits in 64 bits.
		must(t, k.SetConns(web, d, 3_000_000_000, 4_000_000_000))
	}
	must(t, k.AddDestination(foreign, ipvs.Destination{DestKey: be("10.9.0.1:22"), Weight: 1}))
	must(t, k.SetConns(foreign, be("10.9.0.1:22"), 5, 6))
	must(t, k.SetServiceStats(web, ipvs.Stats{Conns: g + 1, InPkts: 2*g + 2, OutPkts: 3*g + 3, InBytes: 1<<52 + 4, OutBytes: 1<<53 - 1,
		CPS: 7, InPPS: 8, OutPPS: 9, InBPS: 10, OutBPS: 11}))
	must(t, k.SetServiceStats(dns, ipvs.Stats{Conns: 5 * g, InPkts: 6 * g, OutPkts: 7 * g, InBytes: 8 * g, OutBytes: 9 * g}))
	must(t, k.SetServiceStats(foreign, ipvs.Stats{Conns: 11 * g, InPkts: 12 * g, OutPkts: 13 * g, InBytes: 14 * g, OutBytes: 15 * g}))

	owned := map[ipvs.Key]string{web: "web", dns: "dns", gone: "gone"}
	m := NewMetrics(StatsConfig{Kernel: k, Owned: func() map[ipvs.Key]string { return owned },
		Labels: []string{"service"}, OwnerLabels: func(o string) []string { return []string{o} }}, nil)
	h := m.MetricsHandler()

	const webL = `{service="web",virtual_server="TCP 192.0.2.10:80"}`
	const dnsL = `{service="dns",virtual_server="UDP [2001:db8::53]:53"}`
	want := map[string]float64{
		"ipvsd_virtual_server_scrape_error": 0,

		"ipvsd_virtual_server_connections_total" + webL:    g + 1,
		"ipvsd_virtual_server_in_packets_total" + webL:     2*g + 2,
		"ipvsd_virtual_server_out_packets_total" + webL:    3*g + 3,
		"ipvsd_virtual_server_in_bytes_total" + webL:       1<<52 + 4,
		"ipvsd_virtual_server_out_bytes_total" + webL:      1<<53 - 1,
		"ipvsd_virtual_server_active_connections" + webL:   6_000_000_000,
		"ipvsd_virtual_server_inactive_connections" + webL: 8_000_000_000,

		"ipvsd_virtual_server_connections_total" + dnsL:    5 * g,
		"ipvsd_virtual_server_in_packets_total" + dnsL:     6 * g,
		"ipvsd_virtual_server_out_packets_total" + dnsL:    7 * g,
		"ipvsd_virtual_server_in_bytes_total" + dnsL:       8 * g,
		"ipvsd_virtual_server_out_bytes_total" + dnsL:      9 * g,
		"ipvsd_virtual_server_active_connections" + dnsL:   0,
		"ipvsd_virtual_server_inactive_connections" + dnsL: 0,
	}
	if diff := cmp.Diff(want, dataplanetest.Scrape(t, h, "ipvsd_virtual_server_")); diff != "" {
		t.Fatalf("series differ (-want +got):\n%s", diff)
	}

	// Read at each scrape: a later counter shows up at once.
	must(t, k.SetServiceStats(dns, ipvs.Stats{Conns: 10 * g}))
	if got := dataplanetest.Scrape(t, h, "ipvsd_virtual_server_")["ipvsd_virtual_server_connections_total"+dnsL]; got != 10*g {
		t.Errorf("dns connections after an update: %v, want %v", got, float64(10*g))
	}

	// A failed dump: the scrape still succeeds, says so, and exports no
	// stale or partial per-virtual-server series.
	k.FailNext(ipvstest.OpDump, ipvs.Key{}, errors.New("netlink: no buffer space"))
	if diff := cmp.Diff(map[string]float64{"ipvsd_virtual_server_scrape_error": 1}, dataplanetest.Scrape(t, h, "ipvsd_virtual_server_")); diff != "" {
		t.Fatalf("series after a failed dump differ (-want +got):\n%s", diff)
	}
	if got := dataplanetest.Scrape(t, h, "ipvsd_virtual_server_"); got["ipvsd_virtual_server_scrape_error"] != 0 || len(got) != len(want) {
		t.Fatalf("series after the dump recovered: %v", got)
	}

	// Ownership is read at each scrape too: a service we let go of drops out.
	owned = map[ipvs.Key]string{dns: "dns"}
	for s := range dataplanetest.Scrape(t, h, "ipvsd_virtual_server_") {
		if strings.Contains(s, `service="web"`) {
			t.Errorf("series %s of a service no longer ours", s)
		}
	}
}

// TestMetricsWithoutKernel: with no kernel (or no owner function) there is
// no per-virtual-server collector at all, not even its error gauge.
func TestMetricsWithoutKernel(t *testing.T) {
	for name, m := range map[string]*Metrics{
		"no kernel": NewMetrics(StatsConfig{Owned: func() map[ipvs.Key]string { return nil }}, nil),
		"no owners": NewMetrics(StatsConfig{Kernel: ipvstest.New()}, nil),
	} {
		if got := dataplanetest.Scrape(t, m.MetricsHandler(), "ipvsd_virtual_server_"); len(got) != 0 {
			t.Errorf("%s: series %v", name, got)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

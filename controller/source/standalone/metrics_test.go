package standalone

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// scrape serves /metrics from m's handler and flattens the series whose
// name starts with prefix to `name{label="value",...}` -> value, labels in
// name order, as the text exposition writes them.
func scrape(t *testing.T, m *Metrics, prefix string) map[string]float64 {
	t.Helper()
	rr := httptest.NewRecorder()
	m.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rr.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", rr.Code, rr.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rr.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, mt := range f.GetMetric() {
			var ls []string
			for _, l := range mt.GetLabel() {
				ls = append(ls, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			slices.Sort(ls)
			k := name
			if len(ls) > 0 {
				k += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case mt.Counter != nil:
				out[k] = mt.GetCounter().GetValue()
			case mt.Gauge != nil:
				out[k] = mt.GetGauge().GetValue()
			default:
				t.Fatalf("%s: neither counter nor gauge", k)
			}
		}
	}
	return out
}

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
	m := NewMetrics(k, func() map[ipvs.Key]string { return owned })

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
	if diff := cmp.Diff(want, scrape(t, m, "ipvsd_virtual_server_")); diff != "" {
		t.Fatalf("series differ (-want +got):\n%s", diff)
	}

	// Read at each scrape: a later counter shows up at once.
	must(t, k.SetServiceStats(dns, ipvs.Stats{Conns: 10 * g}))
	if got := scrape(t, m, "ipvsd_virtual_server_")["ipvsd_virtual_server_connections_total"+dnsL]; got != 10*g {
		t.Errorf("dns connections after an update: %v, want %v", got, float64(10*g))
	}

	// A failed dump: the scrape still succeeds, says so, and exports no
	// stale or partial per-virtual-server series.
	k.FailNext(ipvstest.OpDump, ipvs.Key{}, errors.New("netlink: no buffer space"))
	if diff := cmp.Diff(map[string]float64{"ipvsd_virtual_server_scrape_error": 1}, scrape(t, m, "ipvsd_virtual_server_")); diff != "" {
		t.Fatalf("series after a failed dump differ (-want +got):\n%s", diff)
	}
	if got := scrape(t, m, "ipvsd_virtual_server_"); got["ipvsd_virtual_server_scrape_error"] != 0 || len(got) != len(want) {
		t.Fatalf("series after the dump recovered: %v", got)
	}

	// Ownership is read at each scrape too: a service we let go of drops out.
	owned = map[ipvs.Key]string{dns: "dns"}
	for s := range scrape(t, m, "ipvsd_virtual_server_") {
		if strings.Contains(s, `service="web"`) {
			t.Errorf("series %s of a service no longer ours", s)
		}
	}
}

// TestMetricsWithoutKernel: with no kernel (or no owner function) there is
// no per-virtual-server collector at all, not even its error gauge.
func TestMetricsWithoutKernel(t *testing.T) {
	for name, m := range map[string]*Metrics{
		"no kernel": NewMetrics(nil, func() map[ipvs.Key]string { return nil }),
		"no owners": NewMetrics(ipvstest.New(), nil),
	} {
		if got := scrape(t, m, "ipvsd_virtual_server_"); len(got) != 0 {
			t.Errorf("%s: series %v", name, got)
		}
	}
}

// TestHealthCheckMetrics: checks and transitions count per backend;
// setTargets and setNotes replace their gauges, so a backend or service
// that left the set has no series rather than a frozen one.
func TestHealthCheckMetrics(t *testing.T) {
	m := NewMetrics(nil, nil)
	a := probe.ID{Service: "web", Backend: netip.MustParseAddrPort("10.1.0.1:8080")}
	b := probe.ID{Service: "web", Backend: netip.MustParseAddrPort("[2001:db8:be::1]:8080")}

	m.observeCheck(a, nil)
	m.observeCheck(a, nil)
	m.observeCheck(b, errors.New("connection refused"))
	m.observeTransition(a, true)
	m.observeTransition(b, false)
	m.setNotes(Notes{BelowQuorum: []string{"web"}, Sorry: []string{"dns"}})

	const aL = `backend="10.1.0.1:8080",service="web"`
	const bL = `backend="[2001:db8:be::1]:8080",service="web"`
	want := map[string]float64{
		`ipvsd_healthcheck_total{backend="10.1.0.1:8080",result="success",service="web"}`:         2,
		`ipvsd_healthcheck_total{backend="[2001:db8:be::1]:8080",result="failure",service="web"}`: 1,
		"ipvsd_healthcheck_transitions_total{" + aL + `,to="up"}`:                                 1,
		"ipvsd_healthcheck_transitions_total{" + bL + `,to="down"}`:                               1,
		"ipvsd_backend_up{" + aL + "}":                                                            1,
		"ipvsd_backend_up{" + bL + "}":                                                            0,
		`ipvsd_service_below_quorum{service="web"}`:                                               1,
		`ipvsd_service_sorry_server_active{service="dns"}`:                                        1,
	}
	if diff := cmp.Diff(want, scrape(t, m, "ipvsd_")); diff != "" {
		t.Fatalf("series differ (-want +got):\n%s", diff)
	}

	// b leaves the checked set and a goes down; the notes clear.
	m.setTargets(map[probe.ID]probe.Status{a: {Up: false}})
	m.setNotes(Notes{})
	got := scrape(t, m, "ipvsd_")
	for _, s := range []string{"ipvsd_backend_up{" + bL + "}", `ipvsd_service_below_quorum{service="web"}`, `ipvsd_service_sorry_server_active{service="dns"}`} {
		if v, ok := got[s]; ok {
			t.Errorf("%s = %v after it left the set", s, v)
		}
	}
	if v, ok := got["ipvsd_backend_up{"+aL+"}"]; !ok || v != 0 {
		t.Errorf("backend_up of a after it went down: %v (present %t), want 0", v, ok)
	}
	// Counters are cumulative: resetting the gauges keeps them.
	if v := got[`ipvsd_healthcheck_total{backend="10.1.0.1:8080",result="success",service="web"}`]; v != 2 {
		t.Errorf("check count of a after setTargets: %v, want 2", v)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package standalone

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
)

// TestHealthCheckMetrics: checks and transitions count per backend;
// setTargets and setNotes replace their gauges, so a backend or service
// that left the set has no series rather than a frozen one.
func TestHealthCheckMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
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
	if diff := cmp.Diff(want, dataplanetest.Scrape(t, h, "ipvsd_")); diff != "" {
		t.Fatalf("series differ (-want +got):\n%s", diff)
	}

	// b leaves the checked set and a goes down; the notes clear.
	m.setTargets(map[probe.ID]probe.Status{a: {Up: false}})
	m.setNotes(Notes{})
	got := dataplanetest.Scrape(t, h, "ipvsd_")
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

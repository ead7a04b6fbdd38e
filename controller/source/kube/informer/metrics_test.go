package informer

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

func TestMetricsAndHealthz(t *testing.T) {
	k := ipvstest.New()
	key := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.1"), Protocol: ipvs.TCP, Port: 80}
	if err := k.AddService(ipvs.Service{Key: key, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	foreign := key
	foreign.Port = 81
	if err := k.AddService(ipvs.Service{Key: foreign, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := dataplane.NewMetrics(dataplane.StatsConfig{
		Kernel: k, Owned: func() map[ipvs.Key]string { return map[ipvs.Key]string{key: "ns/web:http"} },
		Labels: StatsLabels, OwnerLabels: OwnerLabels,
	}, func() time.Time { return now })
	km := NewMetrics(m.Registry)

	health := func() int {
		rec := httptest.NewRecorder()
		m.HealthzHandler(time.Minute).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		return rec.Code
	}
	if c := health(); c != http.StatusServiceUnavailable {
		t.Errorf("before any sync: %d, want 503", c)
	}
	m.ObserveSync(2*time.Millisecond, nil)
	km.ObserveProgramming(30 * time.Millisecond)
	km.SetProgrammed(1, 2)
	if c := health(); c != http.StatusOK {
		t.Errorf("after a sync: %d, want 200", c)
	}
	now = now.Add(30 * time.Second)
	m.ObserveSync(time.Millisecond, errors.New("boom"))
	if c := health(); c != http.StatusOK {
		t.Errorf("a failed sync within the age: %d, want 200", c)
	}
	now = now.Add(31 * time.Second)
	if c := health(); c != http.StatusServiceUnavailable {
		t.Errorf("last success too old: %d, want 503", c)
	}

	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range families {
		got[f.GetName()] = len(f.GetMetric())
		if f.GetName() == "ipvsd_virtual_server_connections_total" {
			labels := map[string]string{}
			for _, l := range f.GetMetric()[0].GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] != "ns" || labels["service"] != "web" || labels["port"] != "http" {
				t.Errorf("labels %v", labels)
			}
		}
	}
	for name, n := range map[string]int{
		"ipvsd_sync_duration_seconds": 2, "ipvsd_network_programming_duration_seconds": 1, "ipvsd_sync_errors_total": 1,
		"ipvsd_virtual_servers": 1, "ipvsd_real_servers": 1, "ipvsd_virtual_server_connections_total": 1,
	} {
		if got[name] != n {
			t.Errorf("%s: %d series, want %d", name, got[name], n)
		}
	}
}

package dataplane

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// BenchmarkScrape10000: one /metrics scrape with 10,000 of our virtual
// servers of 10 real servers each, labelled as Kubernetes mode labels
// them. What it allocates is what a scrape adds to the daemon's heap.
func BenchmarkScrape10000(b *testing.B) {
	k := ipvstest.New()
	owned := map[ipvs.Key]string{}
	for i := range 10000 {
		key := tcpKey(fmt.Sprintf("10.96.%d.%d:80", i/250, i%250+1))
		must(b, k.AddService(ipvs.Service{Key: key, Scheduler: "rr"}))
		for j := range 10 {
			a := netip.AddrFrom4([4]byte{10, 244, byte(i / 250), byte(j*25 + i%25)})
			must(b, k.AddDestination(key, ipvs.Destination{DestKey: ipvs.DestKey{Address: a, Port: uint16(8000 + i%1000)}, Weight: 1}))
		}
		owned[key] = fmt.Sprintf("ns/svc-%d:http", i)
	}
	m := NewMetrics(StatsConfig{Kernel: k, Owned: func() map[ipvs.Key]string { return owned },
		Labels: []string{"namespace", "service", "port"}, OwnerLabels: func(o string) []string { return []string{"ns", o, "http"} }}, nil)
	h := m.MetricsHandler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /metrics: %d", rec.Code)
		}
		b.ReportMetric(float64(rec.Body.Len()), "body-bytes")
	}
}

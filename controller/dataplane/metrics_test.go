package dataplane

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthz(t *testing.T) {
	m := NewMetrics(StatsConfig{}, nil)
	get := func() int {
		rr := httptest.NewRecorder()
		m.HealthzHandler(time.Minute).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rr.Code
	}
	if c := get(); c != http.StatusServiceUnavailable {
		t.Fatalf("before any sync: %d", c)
	}
	m.ObserveSync(0, nil)
	if c := get(); c != http.StatusOK {
		t.Fatalf("after a good sync: %d", c)
	}
	rr := httptest.NewRecorder()
	m.MetricsHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rr.Body.String(), `ipvsd_sync_duration_seconds_count{result="ok"} 1`) {
		t.Fatalf("metrics:\n%s", rr.Body.String())
	}
}

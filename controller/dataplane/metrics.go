package dataplane

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Metrics are the dataplane's Prometheus metrics and health status, on a
// registry of their own (no process-global state). Sources register their
// own metrics (health checks, programming latency) on Registry, so one
// /metrics serves them all.
type Metrics struct {
	Registry *prometheus.Registry

	syncDuration *prometheus.HistogramVec
	syncErrors   prometheus.Counter

	now      func() time.Time
	mu       sync.Mutex
	lastOK   time.Time
	lastSync time.Time
}

// StatsConfig says how the per-virtual-server counters are read and
// labelled; see NewMetrics.
type StatsConfig struct {
	// Kernel is read at each scrape; nil exports no counters.
	Kernel ipvs.Kernel
	// Owned maps our virtual servers to their owner labels; foreign ones
	// are never exported.
	Owned func() map[ipvs.Key]string
	// Labels name the labels OwnerLabels derives from an owner label;
	// "virtual_server" is added after them.
	Labels      []string
	OwnerLabels func(owner string) []string
}

// NewMetrics registers the sync metrics and, with a kernel, the counters
// of our virtual servers read from it at each scrape. now is the clock of
// the health status (nil: time.Now).
func NewMetrics(stats StatsConfig, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ipvsd_sync_duration_seconds", Help: "Duration of one sync of the firewall and IPVS.",
			// 1 ms to ~16 s: an incremental sync takes milliseconds, a
			// cold sync of a large table seconds.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result"}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvsd_sync_errors_total", Help: "Syncs that failed (and will be retried).",
		}),
		now: now,
	}
	m.Registry.MustRegister(m.syncDuration, m.syncErrors,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if stats.Kernel != nil && stats.Owned != nil {
		m.Registry.MustRegister(newStatsCollector(stats))
	}
	return m
}

// ObserveSync records one sync.
func (m *Metrics) ObserveSync(took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
		m.syncErrors.Inc()
	}
	m.syncDuration.WithLabelValues(result).Observe(took.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastSync = m.now()
	if err == nil {
		m.lastOK = m.lastSync
	}
}

// MetricsHandler serves /metrics.
func (m *Metrics) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// HealthzHandler serves /healthz: 200 while the last successful sync is
// younger than maxAge, 503 before the first one and after that. A daemon
// that keeps retrying stays healthy through a short outage (an API server
// restart, a busy netlink socket); one that has not programmed anything
// for maxAge is not. The body says when, so a probe's log explains a
// failure.
func (m *Metrics) HealthzHandler(maxAge time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		ok, last := m.lastOK, m.lastSync
		m.mu.Unlock()
		now := m.now()
		w.Header().Set("Content-Type", "application/json")
		healthy := !ok.IsZero() && now.Sub(ok) <= maxAge
		if !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, `{"healthy":%t,"lastSuccessfulSync":%q,"lastSync":%q,"currentTime":%q}`+"\n",
			healthy, stamp(ok), stamp(last), stamp(now))
	})
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

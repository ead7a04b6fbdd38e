package dataplane

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Metrics are the dataplane's Prometheus metrics and health status, on a
// registry of their own (no process-global state). Sources register their
// own metrics (health checks, programming latency) on Registry, so one
// /metrics serves them all.
type Metrics struct {
	Registry *prometheus.Registry
	// extra are more gatherers /metrics serves (client-go's, which live
	// on component-base's global registry).
	extra prometheus.Gatherers
	// stats are our virtual servers' counters, nil without a kernel.
	stats *statsGatherer

	syncDuration *prometheus.HistogramVec
	fullDuration prometheus.Histogram
	syncErrors   prometheus.Counter
	conflicts    prometheus.Gauge

	now      func() time.Time
	mu       sync.Mutex
	lastOK   time.Time
	lastSync time.Time
	// queued is when the oldest change still waiting for a sync arrived
	// (zero when none waits).
	queued time.Time
}

// StatsConfig says how the per-virtual-server counters are read and
// labelled; see NewMetrics.
type StatsConfig struct {
	// Kernel is read at each scrape; nil exports no counters. Give it an
	// IPVS handle of its own where there is one: a scrape of a large table
	// must not hold up the writes.
	Kernel ipvs.CounterReader
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
		fullDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ipvsd_full_resync_duration_seconds",
			Help: "Duration of one full resync (the cold start first), from its dump to its last step.",
			// 10 ms to ~5.5 min: a full resync of 100,000 real servers
			// takes seconds natively, minutes under emulation.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvsd_sync_errors_total", Help: "Syncs that failed (and will be retried).",
		}),
		conflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipvsd_conflicts",
			Help: "Desired virtual servers left alone because someone else created them in the kernel.",
		}),
		now: now,
	}
	m.Registry.MustRegister(m.syncDuration, m.fullDuration, m.syncErrors, m.conflicts,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if stats.Kernel != nil && stats.Owned != nil {
		m.stats = newStatsGatherer(stats)
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
	m.queued = time.Time{}
	if err == nil {
		m.lastOK = m.lastSync
	}
}

// ObserveFullResync records a full resync that took took, all its syncs
// (a sweep's slices, the source's pass) and the time between them.
func (m *Metrics) ObserveFullResync(took time.Duration) { m.fullDuration.Observe(took.Seconds()) }

// SetConflicts sets the count of desired virtual servers someone else
// holds.
func (m *Metrics) SetConflicts(n int) { m.conflicts.Set(float64(n)) }

// ObserveQueued records that a change is waiting for a sync.
func (m *Metrics) ObserveQueued() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.queued.IsZero() {
		m.queued = m.now()
	}
}

// Liveness is kube-proxy's health: the sync loop is alive unless a change
// has waited timeout or longer without any sync running to its end. A
// sync that ends in errors still counts: it is retried, and restarting
// the process would not make the kernel accept what it rejected.
type Liveness struct {
	Healthy bool
	// LastSync is when the last sync ended; Synced says there was one.
	LastSync, Now time.Time
	Synced        bool
}

// Liveness reports the loop's liveness for timeout.
func (m *Metrics) Liveness(timeout time.Duration) Liveness {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	return Liveness{
		Healthy:  m.queued.IsZero() || now.Sub(m.queued) < timeout,
		LastSync: m.lastSync, Now: now, Synced: !m.lastSync.IsZero(),
	}
}

// AddGatherer makes /metrics serve g's families too; call it before
// MetricsHandler.
func (m *Metrics) AddGatherer(g prometheus.Gatherer) { m.extra = append(m.extra, g) }

// Gatherer gathers everything /metrics serves.
func (m *Metrics) Gatherer() prometheus.Gatherer {
	g := prometheus.Gatherers{m.Registry}
	if m.stats != nil {
		g = append(g, m.stats)
	}
	return append(g, m.extra...)
}

// MetricsHandler serves /metrics.
func (m *Metrics) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(m.Gatherer(), promhttp.HandlerOpts{})
}

// PrefixGatherer passes on only the families of g whose name starts with
// prefix: a way to serve one component's series from a registry that
// also holds ones this registry has already (the Go runtime's).
func PrefixGatherer(g prometheus.Gatherer, prefix string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		fams, err := g.Gather()
		out := fams[:0]
		for _, f := range fams {
			if strings.HasPrefix(f.GetName(), prefix) {
				out = append(out, f)
			}
		}
		return out, err
	})
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

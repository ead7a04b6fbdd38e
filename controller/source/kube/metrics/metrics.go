// Package metrics holds the Kubernetes mode's Prometheus metrics and its
// /healthz, on a registry of their own (no process-global state).
package metrics

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Metrics implements source.Observer and serves /metrics and /healthz.
type Metrics struct {
	Registry *prometheus.Registry

	syncDuration *prometheus.HistogramVec
	programming  prometheus.Histogram
	services     prometheus.Gauge
	realServers  prometheus.Gauge
	syncErrors   prometheus.Counter

	now      func() time.Time
	mu       sync.Mutex
	lastOK   time.Time
	lastSync time.Time
}

// New registers the metrics. With a kernel, the counters of our virtual
// servers (owned maps their keys to owners "ns/name:port") are read from
// it at each scrape.
func New(kernel ipvs.Kernel, owned func() map[ipvs.Key]string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ipvsd_sync_duration_seconds", Help: "Duration of one sync of the firewall and IPVS.",
			// 1 ms to ~16 s: an incremental sync takes milliseconds, a
			// cold sync of a large cluster seconds.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result"}),
		programming: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ipvsd_network_programming_duration_seconds",
			Help:    "Time from an EndpointSlice change (its last-change-trigger-time) to the kernel.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipvsd_virtual_servers", Help: "Virtual servers in the desired state.",
		}),
		realServers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipvsd_real_servers", Help: "Real servers in the desired state.",
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvsd_sync_errors_total", Help: "Syncs that failed (and will be retried).",
		}),
		now: time.Now,
	}
	m.Registry.MustRegister(m.syncDuration, m.programming, m.services, m.realServers, m.syncErrors,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if kernel != nil && owned != nil {
		m.Registry.MustRegister(newStatsCollector(kernel, owned))
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

// ObserveProgramming records one network programming latency.
func (m *Metrics) ObserveProgramming(d time.Duration) {
	if d >= 0 {
		m.programming.Observe(d.Seconds())
	}
}

// SetProgrammed sets the virtual and real server gauges.
func (m *Metrics) SetProgrammed(services, realServers int) {
	m.services.Set(float64(services))
	m.realServers.Set(float64(realServers))
}

// MetricsHandler serves /metrics.
func (m *Metrics) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// HealthzHandler serves /healthz: 200 while the last successful sync is
// younger than maxAge, 503 before the first one and after that. The body
// says when it was, so a probe's log explains a failure.
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

// statsCollector reads our virtual servers' counters from the kernel at
// each scrape: one dump, what `ipvsadm -Ln --stats` costs.
type statsCollector struct {
	kernel                                                       ipvs.Kernel
	owned                                                        func() map[ipvs.Key]string
	conns, inPkts, outPkts, inBytes, outBytes, active, scrapeErr *prometheus.Desc
}

func newStatsCollector(kernel ipvs.Kernel, owned func() map[ipvs.Key]string) *statsCollector {
	l := []string{"namespace", "service", "port", "virtual_server"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &statsCollector{kernel: kernel, owned: owned,
		conns:     d("ipvsd_virtual_server_connections_total", "Connections scheduled by the virtual server."),
		inPkts:    d("ipvsd_virtual_server_in_packets_total", "Packets from clients."),
		outPkts:   d("ipvsd_virtual_server_out_packets_total", "Packets to clients."),
		inBytes:   d("ipvsd_virtual_server_in_bytes_total", "Bytes from clients."),
		outBytes:  d("ipvsd_virtual_server_out_bytes_total", "Bytes to clients."),
		active:    d("ipvsd_virtual_server_active_connections", "Active connections over all real servers."),
		scrapeErr: prometheus.NewDesc("ipvsd_virtual_server_scrape_error", "1 if reading the IPVS table failed.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.inPkts, c.outPkts, c.inBytes, c.outBytes, c.active, c.scrapeErr} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	dump, err := c.kernel.Dump()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.scrapeErr, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErr, prometheus.GaugeValue, 0)
	owned := c.owned()
	for _, s := range dump {
		owner, ok := owned[s.Key]
		if !ok {
			continue // foreign: not ours to export
		}
		ns, rest, _ := strings.Cut(owner, "/")
		name, port, _ := strings.Cut(rest, ":")
		l := []string{ns, name, port, s.Key.String()}
		st := s.Stats
		for _, v := range []struct {
			d *prometheus.Desc
			v uint64
		}{{c.conns, st.Conns}, {c.inPkts, st.InPkts}, {c.outPkts, st.OutPkts}, {c.inBytes, st.InBytes}, {c.outBytes, st.OutBytes}} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.v), l...)
		}
		var active uint64
		for _, d := range s.Destinations {
			active += uint64(d.ActiveConns)
		}
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(active), l...)
	}
}

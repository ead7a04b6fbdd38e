package standalone

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Metrics are the daemon's Prometheus metrics, on a registry of their own
// (no process-global state).
type Metrics struct {
	Registry *prometheus.Registry

	syncDuration *prometheus.HistogramVec
	checks       *prometheus.CounterVec
	transitions  *prometheus.CounterVec
	backendUp    *prometheus.GaugeVec
	reloads      *prometheus.CounterVec
	belowQuorum  *prometheus.GaugeVec
	sorry        *prometheus.GaugeVec

	mu       sync.Mutex
	lastErr  error
	synced   bool
	lastSync time.Time
}

// NewMetrics registers the daemon's metrics. With a kernel, the counters
// of our virtual servers (those owned names, key to service name) are read
// from it at each scrape.
func NewMetrics(kernel ipvs.Kernel, owned func() map[ipvs.Key]string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ipvsd_sync_duration_seconds", Help: "Duration of one sync of IPVS and the firewall.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"result"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvsd_healthcheck_total", Help: "Health checks run, by backend and result.",
		}, []string{"service", "backend", "result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvsd_healthcheck_transitions_total", Help: "Backends going up or down.",
		}, []string{"service", "backend", "to"}),
		backendUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ipvsd_backend_up", Help: "1 if the backend passes its health check.",
		}, []string{"service", "backend"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvsd_config_reloads_total", Help: "Configuration reloads, by result.",
		}, []string{"result"}),
		belowQuorum: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ipvsd_service_below_quorum", Help: "1 if the service runs on its last quorate backends.",
		}, []string{"service"}),
		sorry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ipvsd_service_sorry_server_active", Help: "1 if the service's sorry server takes its traffic.",
		}, []string{"service"}),
	}
	m.Registry.MustRegister(m.syncDuration, m.checks, m.transitions, m.backendUp, m.reloads, m.belowQuorum, m.sorry,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if kernel != nil && owned != nil {
		m.Registry.MustRegister(newStatsCollector(kernel, owned))
	}
	return m
}

func (m *Metrics) observeSync(took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.syncDuration.WithLabelValues(result).Observe(took.Seconds())
	m.mu.Lock()
	m.synced, m.lastErr, m.lastSync = true, err, time.Now()
	m.mu.Unlock()
}

func (m *Metrics) observeCheck(id probe.ID, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.checks.WithLabelValues(id.Service, id.Backend.String(), result).Inc()
}

func (m *Metrics) observeTransition(id probe.ID, up bool) {
	to, v := "down", 0.0
	if up {
		to, v = "up", 1
	}
	m.transitions.WithLabelValues(id.Service, id.Backend.String(), to).Inc()
	m.backendUp.WithLabelValues(id.Service, id.Backend.String()).Set(v)
}

// setTargets resets the backend gauges to the checked set, so a removed
// backend's series disappears instead of freezing at its last value.
func (m *Metrics) setTargets(st map[probe.ID]probe.Status) {
	m.backendUp.Reset()
	for id, s := range st {
		v := 0.0
		if s.Up {
			v = 1
		}
		m.backendUp.WithLabelValues(id.Service, id.Backend.String()).Set(v)
	}
}

func (m *Metrics) setNotes(n Notes) {
	m.belowQuorum.Reset()
	m.sorry.Reset()
	for _, s := range n.BelowQuorum {
		m.belowQuorum.WithLabelValues(s).Set(1)
	}
	for _, s := range n.Sorry {
		m.sorry.WithLabelValues(s).Set(1)
	}
}

// Handler serves /metrics and /healthz. /healthz is 200 once a sync has
// succeeded and as long as the last one did, 503 with the error otherwise.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		synced, err := m.synced, m.lastErr
		m.mu.Unlock()
		switch {
		case !synced:
			http.Error(w, "not synced yet", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "last sync failed: "+err.Error(), http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
	return mux
}

// statsCollector reads our virtual servers' counters from the kernel at
// each scrape: one dump, so a scrape costs what `ipvsadm -Ln --stats` does.
type statsCollector struct {
	kernel ipvs.Kernel
	owned  func() map[ipvs.Key]string
	d      statsDescs
}

type statsDescs struct {
	conns, inPkts, outPkts, inBytes, outBytes, active, inactive, scrapeErr *prometheus.Desc
}

func newStatsCollector(kernel ipvs.Kernel, owned func() map[ipvs.Key]string) *statsCollector {
	l := []string{"service", "virtual_server"}
	return &statsCollector{kernel: kernel, owned: owned, d: statsDescs{
		conns:     prometheus.NewDesc("ipvsd_virtual_server_connections_total", "Connections scheduled by the virtual server.", l, nil),
		inPkts:    prometheus.NewDesc("ipvsd_virtual_server_in_packets_total", "Packets from clients.", l, nil),
		outPkts:   prometheus.NewDesc("ipvsd_virtual_server_out_packets_total", "Packets to clients.", l, nil),
		inBytes:   prometheus.NewDesc("ipvsd_virtual_server_in_bytes_total", "Bytes from clients.", l, nil),
		outBytes:  prometheus.NewDesc("ipvsd_virtual_server_out_bytes_total", "Bytes to clients.", l, nil),
		active:    prometheus.NewDesc("ipvsd_virtual_server_active_connections", "Active connections over all real servers.", l, nil),
		inactive:  prometheus.NewDesc("ipvsd_virtual_server_inactive_connections", "Inactive connections over all real servers.", l, nil),
		scrapeErr: prometheus.NewDesc("ipvsd_virtual_server_scrape_error", "1 if reading the IPVS table failed.", nil, nil),
	}}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, d := range []*prometheus.Desc{d.conns, d.inPkts, d.outPkts, d.inBytes, d.outBytes, d.active, d.inactive, d.scrapeErr} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	dump, err := c.kernel.Dump()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.d.scrapeErr, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.d.scrapeErr, prometheus.GaugeValue, 0)
	owned := c.owned()
	for _, s := range dump {
		name, ok := owned[s.Key]
		if !ok {
			continue // foreign: not ours to export
		}
		l := []string{name, s.Key.String()}
		st := s.Stats
		ch <- prometheus.MustNewConstMetric(c.d.conns, prometheus.CounterValue, float64(st.Conns), l...)
		ch <- prometheus.MustNewConstMetric(c.d.inPkts, prometheus.CounterValue, float64(st.InPkts), l...)
		ch <- prometheus.MustNewConstMetric(c.d.outPkts, prometheus.CounterValue, float64(st.OutPkts), l...)
		ch <- prometheus.MustNewConstMetric(c.d.inBytes, prometheus.CounterValue, float64(st.InBytes), l...)
		ch <- prometheus.MustNewConstMetric(c.d.outBytes, prometheus.CounterValue, float64(st.OutBytes), l...)
		var active, inactive uint64
		for _, d := range s.Destinations {
			active += uint64(d.ActiveConns)
			inactive += uint64(d.InactiveConns)
		}
		ch <- prometheus.MustNewConstMetric(c.d.active, prometheus.GaugeValue, float64(active), l...)
		ch <- prometheus.MustNewConstMetric(c.d.inactive, prometheus.GaugeValue, float64(inactive), l...)
	}
}

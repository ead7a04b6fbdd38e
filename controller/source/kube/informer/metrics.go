package informer

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Kubernetes source's own Prometheus metrics: network
// programming latency and the programmed counts. The sync, health and
// per-virtual-server series are the dataplane's (dataplane.Metrics), on
// the same registry.
type Metrics struct {
	programming prometheus.Histogram
	services    prometheus.Gauge
	realServers prometheus.Gauge
	kp          *kubeProxyMetrics
}

// NewMetrics registers the metrics on reg (nil: a registry of their own).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
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
	}
	reg.MustRegister(m.programming, m.services, m.realServers)
	m.kp = newKubeProxyMetrics(reg)
	return m
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

// StatsLabels name the labels of the per-virtual-server series in
// Kubernetes mode (dataplane.StatsConfig): the Service's namespace, name
// and port name.
var StatsLabels = []string{"namespace", "service", "port"}

// OwnerLabels splits an owner label "ns/name:port" into StatsLabels' values.
func OwnerLabels(owner string) []string {
	ns, rest, _ := strings.Cut(owner, "/")
	name, port, _ := strings.Cut(rest, ":")
	return []string{ns, name, port}
}

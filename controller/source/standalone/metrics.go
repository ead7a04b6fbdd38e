package standalone

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
)

// Metrics are standalone mode's own Prometheus metrics: health checks,
// reloads, quorum and sorry servers. The sync, health and per-virtual-server
// series are the dataplane's (dataplane.Metrics), on the same registry.
type Metrics struct {
	checks      *prometheus.CounterVec
	transitions *prometheus.CounterVec
	backendUp   *prometheus.GaugeVec
	reloads     *prometheus.CounterVec
	belowQuorum *prometheus.GaugeVec
	sorry       *prometheus.GaugeVec
}

// NewMetrics registers the metrics on reg (nil: a registry of their own,
// for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
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
	reg.MustRegister(m.checks, m.transitions, m.backendUp, m.reloads, m.belowQuorum, m.sorry)
	return m
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

// replaceTargets drops the backend gauges of gone and sets those of st:
// a reload's changed services alone, where setTargets would rewrite every
// backend's.
func (m *Metrics) replaceTargets(gone []probe.ID, st map[probe.ID]probe.Status) {
	for _, id := range gone {
		if _, still := st[id]; !still {
			m.backendUp.DeleteLabelValues(id.Service, id.Backend.String())
		}
	}
	for id, s := range st {
		v := 0.0
		if s.Up {
			v = 1
		}
		m.backendUp.WithLabelValues(id.Service, id.Backend.String()).Set(v)
	}
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

package informer

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/ipvs"
)

// kubeProxyMetrics are kube-proxy's own series, with its names, types,
// labels and buckets, so that dashboards and alerts written for
// kube-proxy (the kubernetes-mixin's Proxy dashboard) work unchanged.
// kube-proxy runs one proxier per IP family and labels most series with
// it; ipvsd programs both families in one sync and observes it once per
// family the node serves.
type kubeProxyMetrics struct {
	syncDuration, syncFull, syncPartial *prometheus.HistogramVec
	lastSync, lastQueued                *prometheus.GaugeVec
	programming                         *prometheus.HistogramVec
	endpointsPending, servicesPending   prometheus.Gauge
	endpointsTotal, servicesTotal       prometheus.Counter
	noLocal                             *prometheus.GaugeVec
}

// programmingBuckets are kube-proxy's: quarter seconds, then seconds to
// a minute, five seconds to two, half minutes to five.
func programmingBuckets() []float64 {
	b := []float64{0.25, 0.5}
	for s := 1.0; s < 60; s++ {
		b = append(b, s)
	}
	for s := 60.0; s < 120; s += 5 {
		b = append(b, s)
	}
	for s := 120.0; s <= 300; s += 30 {
		b = append(b, s)
	}
	return b
}

func newKubeProxyMetrics(reg prometheus.Registerer) *kubeProxyMetrics {
	family := []string{"ip_family"}
	syncHist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "kubeproxy", Name: name, Help: help, Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, family)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Subsystem: "kubeproxy", Name: name, Help: help}, labels)
	}
	m := &kubeProxyMetrics{
		syncDuration: syncHist("sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds"),
		syncFull:     syncHist("sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs"),
		syncPartial:  syncHist("sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs"),
		lastSync:     gauge("sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced", family...),
		lastQueued:   gauge("sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued", family...),
		programming: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "kubeproxy", Name: "network_programming_duration_seconds",
			Help: "In Cluster Network Programming Latency in seconds", Buckets: programmingBuckets(),
		}, family),
		endpointsPending: prometheus.NewGauge(prometheus.GaugeOpts{Subsystem: "kubeproxy", Name: "sync_proxy_rules_endpoint_changes_pending", Help: "Pending proxy rules Endpoint changes"}),
		servicesPending:  prometheus.NewGauge(prometheus.GaugeOpts{Subsystem: "kubeproxy", Name: "sync_proxy_rules_service_changes_pending", Help: "Pending proxy rules Service changes"}),
		endpointsTotal:   prometheus.NewCounter(prometheus.CounterOpts{Subsystem: "kubeproxy", Name: "sync_proxy_rules_endpoint_changes_total", Help: "Cumulative proxy rules Endpoint changes"}),
		servicesTotal:    prometheus.NewCounter(prometheus.CounterOpts{Subsystem: "kubeproxy", Name: "sync_proxy_rules_service_changes_total", Help: "Cumulative proxy rules Service changes"}),
		noLocal:          gauge("sync_proxy_rules_no_local_endpoints_total", "Number of services with a Local traffic policy and no endpoints", "traffic_policy", "ip_family"),
	}
	reg.MustRegister(m.syncDuration, m.syncFull, m.syncPartial, m.lastSync, m.lastQueued, m.programming,
		m.endpointsPending, m.servicesPending, m.endpointsTotal, m.servicesTotal, m.noLocal)
	return m
}

// familyLabel is kube-proxy's name of a family (v1.IPFamily).
func familyLabel(f ipvs.Family) string {
	if f == ipvs.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// queued records a change waiting for a sync.
func (m *kubeProxyMetrics) queued(now time.Time, endpoints bool, pendingServices, pendingEndpoints int, families []ipvs.Family) {
	if endpoints {
		m.endpointsTotal.Inc()
	} else {
		m.servicesTotal.Inc()
	}
	m.endpointsPending.Set(float64(pendingEndpoints))
	m.servicesPending.Set(float64(pendingServices))
	for _, f := range families {
		m.lastQueued.WithLabelValues(familyLabel(f)).Set(float64(now.UnixNano()) / 1e9)
	}
}

// taken records that the pending changes went into a sync.
func (m *kubeProxyMetrics) taken() {
	m.endpointsPending.Set(0)
	m.servicesPending.Set(0)
}

// synced records one sync that took d.
func (m *kubeProxyMetrics) synced(now time.Time, d time.Duration, full, ok bool, families []ipvs.Family) {
	for _, f := range families {
		l := familyLabel(f)
		m.syncDuration.WithLabelValues(l).Observe(d.Seconds())
		if full {
			m.syncFull.WithLabelValues(l).Observe(d.Seconds())
		} else {
			m.syncPartial.WithLabelValues(l).Observe(d.Seconds())
		}
		if ok {
			m.lastSync.WithLabelValues(l).Set(float64(now.UnixNano()) / 1e9)
		}
	}
}

// programmed records one network programming latency.
func (m *kubeProxyMetrics) programmed(d time.Duration, f ipvs.Family) {
	m.programming.WithLabelValues(familyLabel(f)).Observe(d.Seconds())
}

// setNoLocal sets the count of service ports with a Local traffic policy
// and no local endpoint, by policy ("internal", "external") and family.
func (m *kubeProxyMetrics) setNoLocal(counts map[kube.NoLocal]int, families []ipvs.Family) {
	for _, policy := range []string{"internal", "external"} {
		for _, f := range families {
			m.noLocal.WithLabelValues(policy, familyLabel(f)).Set(float64(counts[kube.NoLocal{Policy: policy, Family: f}]))
		}
	}
}

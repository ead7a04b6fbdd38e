package informer

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvsd/ipvsd/controller/dataplane"
)

// ToBeDeletedTaint is the cluster autoscaler's taint of a node it is
// about to remove; kube-proxy's /healthz fails on such a node so that
// load balancers drain it first.
const ToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"

// healthBody is kube-proxy's JSON answer of /healthz and /livez.
type healthBody struct {
	LastUpdated  time.Time `json:"lastUpdated"`
	CurrentTime  time.Time `json:"currentTime"`
	NodeEligible *bool     `json:"nodeEligible,omitempty"`
	Healthy      bool      `json:"healthy"`
}

// HealthHandlers serve kube-proxy's /livez and /healthz on the
// dataplane's liveness (timeout: two sync periods, kube-proxy's):
//   - /livez is 200 while the sync loop is alive;
//   - /healthz is 200 while it is alive, has synced at least once (kube-proxy
//     answers 200 before its first sync; a DaemonSet's readiness should
//     wait for the node to be programmed) and the node is eligible: it
//     exists, is not being deleted and has no ToBeDeletedTaint.
//
// Both count their answers in kubeproxy_proxy_{healthz,livez}_total{code},
// registered on reg.
type HealthHandlers struct {
	Livez, Healthz http.Handler
}

// NewHealthHandlers builds them; eligible reports the node's eligibility.
func NewHealthHandlers(m *dataplane.Metrics, timeout time.Duration, eligible func() bool, reg prometheus.Registerer) HealthHandlers {
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Subsystem: "kubeproxy", Name: name, Help: help}, []string{"code"})
		reg.MustRegister(c)
		return c
	}
	healthzTotal := counter("proxy_healthz_total", "Cumulative proxy healthz HTTP status")
	livezTotal := counter("proxy_livez_total", "Cumulative proxy livez HTTP status")
	return HealthHandlers{
		Livez: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			l := m.Liveness(timeout)
			writeHealth(w, livezTotal, l, healthBody{Healthy: l.Healthy})
		}),
		Healthz: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			l := m.Liveness(timeout)
			ok := eligible()
			writeHealth(w, healthzTotal, l, healthBody{Healthy: l.Healthy && l.Synced && ok, NodeEligible: &ok})
		}),
	}
}

func writeHealth(w http.ResponseWriter, total *prometheus.CounterVec, l dataplane.Liveness, b healthBody) {
	b.CurrentTime, b.LastUpdated = l.Now, l.LastSync
	code := http.StatusServiceUnavailable
	if b.Healthy {
		code = http.StatusOK
		// As kube-proxy: a healthy proxy is up to date now.
		b.LastUpdated = l.Now
	}
	total.WithLabelValues(strconv.Itoa(code)).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(b)
}

// NodeEligible reports whether this node should receive traffic: its Node
// exists, is not being deleted and is not tainted ToBeDeletedTaint.
func (s *Source) NodeEligible() bool {
	n, err := s.inf.node()
	if err != nil || n == nil || n.DeletionTimestamp != nil {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Key == ToBeDeletedTaint {
			return false
		}
	}
	return true
}

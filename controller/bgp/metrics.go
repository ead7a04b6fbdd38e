package bgp

import (
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the BGP metrics, on the daemon's registry.
type Metrics struct {
	established *prometheus.GaugeVec
	flaps       *prometheus.CounterVec
	routes      prometheus.Gauge
	route       *prometheus.GaugeVec

	mu sync.Mutex
	// peers and prefixes have series now, so removed ones can be deleted.
	peers    map[netip.Addr]bool
	prefixes map[netip.Prefix]bool
}

// NewMetrics registers the metrics on reg (nil: none registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		established: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ipvsd_bgp_peer_established", Help: "1 while the BGP session with the peer is established, else 0.",
		}, []string{"peer"}),
		flaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvsd_bgp_session_flaps_total", Help: "BGP sessions with the peer that were established and went down.",
		}, []string{"peer"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipvsd_bgp_announced_routes", Help: "Routes (VIPs of services able to take traffic) announced over BGP.",
		}),
		route: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ipvsd_bgp_route_announced", Help: "1 for each prefix announced over BGP.",
		}, []string{"prefix"}),
		peers: map[netip.Addr]bool{}, prefixes: map[netip.Prefix]bool{},
	}
	if reg != nil {
		reg.MustRegister(m.established, m.flaps, m.routes, m.route)
	}
	return m
}

// setConfigured gives every configured peer a series (0 until its
// session is up) and deletes those of peers no longer configured.
func (m *Metrics) setConfigured(peers []netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[netip.Addr]bool{}
	for _, p := range peers {
		keep[p] = true
		if !m.peers[p] {
			m.established.WithLabelValues(p.String()).Set(0)
			m.flaps.WithLabelValues(p.String())
		}
	}
	for p := range m.peers {
		if !keep[p] {
			m.established.DeleteLabelValues(p.String())
			m.flaps.DeleteLabelValues(p.String())
		}
	}
	m.peers = keep
}

func (m *Metrics) setState(peer netip.Addr, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.peers[peer] {
		return // a late event from a peer just removed
	}
	v := 0.0
	if up {
		v = 1
	}
	m.established.WithLabelValues(peer.String()).Set(v)
}

func (m *Metrics) flap(peer netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.peers[peer] {
		m.flaps.WithLabelValues(peer.String()).Inc()
	}
}

func (m *Metrics) setAnnounced(prefixes []netip.Prefix) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		keep[p] = true
		m.route.WithLabelValues(p.String()).Set(1)
	}
	for p := range m.prefixes {
		if !keep[p] {
			m.route.DeleteLabelValues(p.String())
		}
	}
	m.prefixes = keep
	m.routes.Set(float64(len(prefixes)))
}

package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"go.uber.org/zap"
)

// StateWaiting is the state the Announcer reports for a configured peer
// before the first sync: no session is opened until there is something
// true to announce.
const StateWaiting = "waiting for the first sync"

// Announcer drives a Speaker from the configuration and from the VIPs the
// dataplane has programmed. It announces nothing before the first SetVIPs
// (the first sync has programmed the kernel): a restarting director must
// not send its peers an empty End-of-RIB, which would withdraw the routes
// graceful restart kept for it.
type Announcer struct {
	log     *zap.Logger
	speaker Speaker
	metrics *Metrics

	mu sync.Mutex
	// cfg is nil while bgp: is not configured.
	cfg *Config
	// ready: SetVIPs was called once; want is its last value.
	ready     bool
	want      []netip.Prefix
	announced []netip.Prefix
	// started: the speaker was configured (sessions open).
	started bool

	pmu   sync.Mutex
	peers map[netip.Addr]PeerStatus
	flaps map[netip.Addr]uint64
}

// NewAnnouncer returns an announcer with nothing configured. Pass its
// PeerChanged to the speaker as the peer callback.
func NewAnnouncer(log *zap.Logger, speaker Speaker, metrics *Metrics) *Announcer {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Announcer{log: log, speaker: speaker, metrics: metrics,
		peers: map[netip.Addr]PeerStatus{}, flaps: map[netip.Addr]uint64{}}
}

// SetConfig applies cfg (nil: BGP off, every route withdrawn). It changes
// sessions and routes only: the dataplane is not involved.
func (a *Announcer) SetConfig(ctx context.Context, cfg *Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg != nil {
		c := *cfg
		c.Peers, c.Communities = slices.Clone(cfg.Peers), slices.Clone(cfg.Communities)
		cfg = &c
	}
	a.cfg = cfg
	a.metrics.setConfigured(a.peerAddrs())
	return a.applyLocked(ctx)
}

// SetVIPs is told, after every sync, which VIPs have a service able to
// take traffic. The first call ends the wait for the first sync.
func (a *Announcer) SetVIPs(ctx context.Context, vips []netip.Addr) error {
	want := HostPrefixes(vips)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ready && slices.Equal(want, a.want) && (a.cfg == nil || a.started) {
		return nil
	}
	a.ready, a.want = true, want
	return a.applyLocked(ctx)
}

// applyLocked makes the speaker announce what it should: nothing without
// a config or before the first sync, else want. Routes go in before the
// sessions open, so a peer's first UPDATEs carry them.
func (a *Announcer) applyLocked(ctx context.Context) error {
	if a.cfg == nil {
		if !a.started {
			return nil
		}
		a.logRoutes(nil)
		err := a.speaker.Stop(ctx, false)
		a.started, a.announced = false, nil
		a.metrics.setAnnounced(nil)
		if err != nil {
			return fmt.Errorf("bgp: %w", err)
		}
		a.log.Info("bgp: off (no bgp: section): every session closed")
		return nil
	}
	if !a.ready {
		return nil
	}
	var errs []error
	if err := a.speaker.Announce(ctx, a.want); err != nil {
		errs = append(errs, err)
	}
	a.logRoutes(a.want)
	a.announced = slices.Clone(a.want)
	a.metrics.setAnnounced(a.announced)
	if err := a.speaker.Configure(ctx, *a.cfg); err != nil {
		errs = append(errs, err)
	} else if !a.started {
		a.started = true
		a.log.Info("bgp: sessions starting", zap.Uint32("asn", a.cfg.ASN), zap.Stringer("routerID", a.cfg.RouterID),
			zap.Int("peers", len(a.cfg.Peers)), zap.Int("routes", len(a.announced)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	return nil
}

// logRoutes logs each route that want adds to or removes from what is
// announced, one line per prefix (the lab tests wait on these lines).
func (a *Announcer) logRoutes(want []netip.Prefix) {
	add, remove := diffPrefixes(a.announced, want)
	for _, p := range remove {
		a.log.Info("bgp: withdrawn "+p.String(), zap.Stringer("prefix", p))
	}
	for _, p := range add {
		a.log.Info("bgp: announced "+p.String(), zap.Stringer("prefix", p))
	}
}

// PeerChanged records a session's state change: the speaker's callback.
func (a *Announcer) PeerChanged(st PeerStatus) {
	a.pmu.Lock()
	defer a.pmu.Unlock()
	old, had := a.peers[st.Address]
	if had && old.State == st.State {
		return
	}
	a.peers[st.Address] = st
	switch {
	case st.State == StateEstablished:
		a.log.Info(fmt.Sprintf("bgp: peer %s established", st.Address), zap.Stringer("peer", st.Address),
			zap.Uint32("asn", st.ASN), zap.Bool("gracefulRestart", st.GracefulRestart))
	case old.State == StateEstablished:
		a.flaps[st.Address]++
		a.metrics.flap(st.Address)
		a.log.Warn(fmt.Sprintf("bgp: peer %s down", st.Address), zap.Stringer("peer", st.Address), zap.String("state", st.State))
	default:
		a.log.Debug("bgp: peer state", zap.Stringer("peer", st.Address), zap.String("state", st.State))
	}
	a.metrics.setState(st.Address, st.State == StateEstablished)
}

// Stop ends the sessions when the daemon stops. With keepGraceful (a
// SIGTERM: a restart or an upgrade) the peers that negotiated graceful
// restart keep our routes for the restart time; the others, and every
// peer without keepGraceful, withdraw them.
func (a *Announcer) Stop(ctx context.Context, keepGraceful bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started {
		return nil
	}
	peers, err := a.speaker.Peers(ctx)
	if err != nil {
		a.log.Warn("bgp: listing peers before stopping", zap.Error(err))
	}
	for _, p := range peers {
		if keepGraceful && p.GracefulRestart && p.State == StateEstablished {
			a.log.Info(fmt.Sprintf("bgp: peer %s keeps our routes (graceful restart)", p.Address), zap.Stringer("peer", p.Address))
		} else {
			a.log.Info(fmt.Sprintf("bgp: peer %s: withdrawing every route", p.Address), zap.Stringer("peer", p.Address))
		}
	}
	a.started = false
	if err := a.speaker.Stop(ctx, keepGraceful); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	return nil
}

// peerAddrs lists the configured peers.
func (a *Announcer) peerAddrs() []netip.Addr {
	if a.cfg == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(a.cfg.Peers))
	for _, p := range a.cfg.Peers {
		out = append(out, p.Address)
	}
	return out
}

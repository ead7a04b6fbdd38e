// Package bgptest has a stateful fake of bgp.Speaker: it keeps the
// configuration, the routes and each peer's view of them (what a router
// would hold), and refuses what GoBGP refuses.
package bgptest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ipvsd/ipvsd/controller/bgp"
)

// Speaker is the fake. Its zero value is not usable: call New.
type Speaker struct {
	mu      sync.Mutex
	onPeer  func(bgp.PeerStatus)
	cfg     bgp.Config
	started bool
	routes  []netip.Prefix
	peers   map[netip.Addr]*peer
}

// peer is one session and the routes the router on the other end holds.
type peer struct {
	conf  bgp.Peer
	state string
	held  []netip.Prefix
	// stale: the session dropped without a NOTIFICATION and the router
	// keeps held for the restart time.
	stale bool
	since time.Time
	// negotiated: a session came up with graceful restart offered.
	negotiated bool
}

var _ bgp.Speaker = (*Speaker)(nil)

// New returns a fake telling onPeer (nil: nobody) of state changes.
func New(onPeer func(bgp.PeerStatus)) *Speaker {
	if onPeer == nil {
		onPeer = func(bgp.PeerStatus) {}
	}
	return &Speaker{onPeer: onPeer, peers: map[netip.Addr]*peer{}}
}

// Configure implements bgp.Speaker.
func (s *Speaker) Configure(_ context.Context, cfg bgp.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !cfg.RouterID.Is4() {
		return fmt.Errorf("router-id must be an IPv4 address: %s", cfg.RouterID)
	}
	if s.started && (cfg.ASN != s.cfg.ASN || cfg.RouterID != s.cfg.RouterID) {
		s.stopLocked(false)
	}
	s.started = true
	s.cfg = bgp.Config{ASN: cfg.ASN, RouterID: cfg.RouterID, Communities: slices.Clone(cfg.Communities), Peers: slices.Clone(cfg.Peers)}
	want := map[netip.Addr]bool{}
	for _, pc := range cfg.Peers {
		want[pc.Address] = true
		if p, ok := s.peers[pc.Address]; ok && p.conf == pc {
			continue
		}
		if p, ok := s.peers[pc.Address]; ok {
			p.held, p.stale = nil, false // a reconfigured session restarts with a Cease
		}
		s.peers[pc.Address] = &peer{conf: pc, state: bgp.StateActive}
	}
	for a, p := range s.peers {
		if !want[a] {
			p.held = nil
			delete(s.peers, a)
		}
	}
	return nil
}

// Announce implements bgp.Speaker.
func (s *Speaker) Announce(_ context.Context, prefixes []netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.IsSortedFunc(prefixes, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) }) {
		return errors.New("prefixes not sorted")
	}
	s.routes = slices.Clone(prefixes)
	for _, p := range s.peers {
		if p.state == bgp.StateEstablished {
			p.held, p.stale = slices.Clone(s.routes), false
		}
	}
	return nil
}

// Peers implements bgp.Speaker.
func (s *Speaker) Peers(context.Context) ([]bgp.PeerStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bgp.PeerStatus
	for a, p := range s.peers {
		out = append(out, bgp.PeerStatus{Address: a, ASN: p.conf.ASN, State: p.state, GracefulRestart: p.negotiated, Since: p.since})
	}
	slices.SortFunc(out, func(a, b bgp.PeerStatus) int { return a.Address.Compare(b.Address) })
	return out, nil
}

// Stop implements bgp.Speaker.
func (s *Speaker) Stop(_ context.Context, keepGraceful bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(keepGraceful)
	return nil
}

func (s *Speaker) stopLocked(keepGraceful bool) {
	for _, p := range s.peers {
		if keepGraceful && p.negotiated && p.state == bgp.StateEstablished {
			p.stale = true
		} else {
			p.held = nil
		}
		p.state = bgp.StateIdle
	}
	s.started = false
}

// Establish brings the session with addr up, as a router answering
// would: it then holds every announced route.
func (s *Speaker) Establish(addr netip.Addr) { s.setState(addr, bgp.StateEstablished) }

// Drop takes the session down (the router's hold timer expired): the
// router withdraws what it held, graceful restart or not, as a peer that
// stops hearing keepalives does once its restart timer ends too.
func (s *Speaker) Drop(addr netip.Addr) { s.setState(addr, bgp.StateActive) }

func (s *Speaker) setState(addr netip.Addr, state string) {
	s.mu.Lock()
	p, ok := s.peers[addr]
	if !ok || !s.started {
		s.mu.Unlock()
		return
	}
	p.state, p.since = state, time.Unix(0, 0)
	if state == bgp.StateEstablished {
		p.held, p.stale, p.negotiated = slices.Clone(s.routes), false, p.conf.GracefulRestart
	} else {
		p.held, p.stale = nil, false
	}
	st := bgp.PeerStatus{Address: addr, ASN: p.conf.ASN, State: state, GracefulRestart: p.negotiated, Since: p.since}
	s.mu.Unlock()
	s.onPeer(st)
}

// Held is what the router at addr holds from us, and whether it is stale.
func (s *Speaker) Held(addr netip.Addr) ([]netip.Prefix, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.peers[addr]
	if !ok {
		return nil, false
	}
	return slices.Clone(p.held), p.stale
}

// Config is the configuration in force, and whether sessions are open.
func (s *Speaker) Config() (bgp.Config, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg, s.started
}

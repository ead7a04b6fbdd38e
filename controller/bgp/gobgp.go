package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
)

// ConnectRetry is how long a session waits before dialling a peer again.
// GoBGP's default is 120 s; a director whose router restarted must be
// back in the ECMP set within seconds, not minutes.
const ConnectRetry = 5 * time.Second

// DeferralTime bounds how long a restarted speaker waits for every peer's
// End-of-RIB before sending its routes (RFC 4724 4.1). Its routes are
// local and need no such wait; what waits is a peer that is up while
// another is unreachable, which still holds our stale routes meanwhile.
const DeferralTime = 10 * time.Second

// GoBGP is the Speaker on an embedded GoBGP server. It never listens on
// TCP 179 (GoBGP's ListenPort -1): it dials its peers, so it cannot clash
// with a routing daemon on the same host, and needs no privilege beyond
// what the dataplane already has.
type GoBGP struct {
	log    *zap.Logger
	onPeer func(PeerStatus)

	srv *server.BgpServer
	// cfg is what srv runs with; peers by address.
	cfg   Config
	peers map[netip.Addr]Peer
	// prefixes are the routes announced, or to announce once started.
	prefixes  []netip.Prefix
	stopWatch context.CancelFunc
}

// NewGoBGP returns a speaker that starts nothing until Configure. onPeer,
// if set, is told every session state change.
func NewGoBGP(log *zap.Logger, onPeer func(PeerStatus)) *GoBGP {
	if onPeer == nil {
		onPeer = func(PeerStatus) {}
	}
	return &GoBGP{log: log, onPeer: onPeer}
}

// Configure implements Speaker.
func (g *GoBGP) Configure(ctx context.Context, cfg Config) error {
	if g.srv != nil && (cfg.ASN != g.cfg.ASN || cfg.RouterID != g.cfg.RouterID || cfg.ForwardingPreserved != g.cfg.ForwardingPreserved) {
		g.log.Info("bgp: ASN or router ID changed: restarting every session",
			zap.Uint32("asn", cfg.ASN), zap.Stringer("routerID", cfg.RouterID))
		if err := g.Stop(ctx, false); err != nil {
			return err
		}
	}
	if g.srv == nil {
		if err := g.start(ctx, cfg); err != nil {
			return err
		}
	} else if !slices.Equal(cfg.Communities, g.cfg.Communities) {
		g.cfg.Communities = slices.Clone(cfg.Communities)
		// The same prefix added again replaces our path: one UPDATE each.
		if err := g.addPaths(g.prefixes); err != nil {
			return err
		}
	}
	return g.setPeers(ctx, cfg.Peers)
}

// start runs a GoBGP server with cfg's identity and our routes.
func (g *GoBGP) start(ctx context.Context, cfg Config) error {
	// GoBGP logs every FSM step at info; the Announcer logs what an
	// operator needs, so GoBGP's own lines below warnings are for
	// debugging (--log-level debug).
	lvl, core := new(slog.LevelVar), g.log.Core()
	lvl.Set(slog.LevelDebug)
	if !core.Enabled(zapcore.DebugLevel) {
		lvl.Set(slog.LevelWarn)
		if c, err := zapcore.NewIncreaseLevelCore(core, zapcore.WarnLevel); err == nil {
			core = c
		}
	}
	srv := server.NewBgpServer(server.LoggerOption(slog.New(zapslog.NewHandler(core, zapslog.WithName("gobgp"))), lvl))
	go srv.Serve()
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: -1,
	}})
	if err != nil {
		srv.Stop()
		return fmt.Errorf("starting BGP (AS %d, router ID %s): %w", cfg.ASN, cfg.RouterID, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	err = srv.WatchEvent(wctx, server.WatchEventMessageCallbacks{OnPeerUpdate: g.peerEvent}, server.WatchPeer())
	if err != nil {
		cancel()
		srv.Stop()
		return fmt.Errorf("watching BGP peers: %w", err)
	}
	g.srv, g.stopWatch = srv, cancel
	g.cfg = Config{ASN: cfg.ASN, RouterID: cfg.RouterID, Communities: slices.Clone(cfg.Communities), ForwardingPreserved: cfg.ForwardingPreserved}
	g.peers = map[netip.Addr]Peer{}
	return g.addPaths(g.prefixes)
}

// setPeers adds, updates and removes peers to match want. A changed peer
// is removed and added again: its session restarts with the new settings.
func (g *GoBGP) setPeers(ctx context.Context, want []Peer) error {
	wanted := map[netip.Addr]bool{}
	var errs []error
	for _, p := range want {
		wanted[p.Address] = true
		old, had := g.peers[p.Address]
		if had && old == p {
			continue
		}
		if had {
			if err := g.deletePeer(ctx, old.Address); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := g.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p, g.cfg.ForwardingPreserved)}); err != nil {
			errs = append(errs, fmt.Errorf("adding BGP peer %s: %w", p.Address, err))
			continue
		}
		g.peers[p.Address] = p
	}
	for addr := range g.peers {
		if !wanted[addr] {
			if err := g.deletePeer(ctx, addr); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deletePeer ends a session with a Cease: the peer withdraws our routes.
func (g *GoBGP) deletePeer(ctx context.Context, addr netip.Addr) error {
	if err := g.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
		return fmt.Errorf("removing BGP peer %s: %w", addr, err)
	}
	delete(g.peers, addr)
	return nil
}

// apiPeer is GoBGP's description of p. Each session carries its own
// address family only: an IPv6 route over an IPv4 session would need an
// IPv6 next hop that "next hop self" does not give.
func apiPeer(p Peer, preserved bool) *api.Peer {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Address.Is6() {
		fam.Afi = api.Family_AFI_IP6
	}
	hold := uint64(p.HoldTime / time.Second)
	ap := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime: hold, KeepaliveInterval: max(hold/3, 1), ConnectRetry: uint64(ConnectRetry / time.Second),
		}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis: []*api.AfiSafi{{
			Config:            &api.AfiSafiConfig{Family: fam, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: p.GracefulRestart}},
		}},
	}
	if p.SourceAddress.IsValid() {
		ap.Transport.LocalAddress = p.SourceAddress.String()
	}
	if p.Multihop > 0 {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.Multihop)}
	}
	if p.GracefulRestart {
		ap.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(p.RestartTime / time.Second),
			LocalRestarting: preserved, DeferralTime: uint32(DeferralTime / time.Second)}
	}
	return ap
}

// Announce implements Speaker.
func (g *GoBGP) Announce(_ context.Context, prefixes []netip.Prefix) error {
	if g.srv == nil {
		g.prefixes = slices.Clone(prefixes)
		return nil
	}
	add, remove := diffPrefixes(g.prefixes, prefixes)
	var errs []error
	for _, p := range remove {
		path, err := g.path(p)
		if err == nil {
			err = g.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{path}})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("withdrawing %s: %w", p, err))
		}
	}
	if err := g.addPaths(add); err != nil {
		errs = append(errs, err)
	}
	// What failed is tried again at the next call: it stays out of (or
	// in) what is recorded as announced.
	g.prefixes = slices.Clone(prefixes)
	return errors.Join(errs...)
}

func (g *GoBGP) addPaths(prefixes []netip.Prefix) error {
	if len(prefixes) == 0 {
		return nil
	}
	paths := make([]*apiutil.Path, 0, len(prefixes))
	for _, p := range prefixes {
		path, err := g.path(p)
		if err != nil {
			return err
		}
		paths = append(paths, path)
	}
	if _, err := g.srv.AddPath(apiutil.AddPathRequest{Paths: paths}); err != nil {
		return fmt.Errorf("announcing %v: %w", prefixes, err)
	}
	return nil
}

// path is the route for p: origin IGP, next hop unspecified, which GoBGP
// replaces with the session's own address (next hop self), and our
// communities.
func (g *GoBGP) path(p netip.Prefix) (*apiutil.Path, error) {
	nlri, err := bgppkt.NewIPAddrPrefix(p)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", p, err)
	}
	attrs := []bgppkt.PathAttributeInterface{bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)}
	fam := bgppkt.RF_IPv4_UC
	var nh bgppkt.PathAttributeInterface
	if p.Addr().Is4() {
		nh, err = bgppkt.NewPathAttributeNextHop(netip.IPv4Unspecified())
	} else {
		fam = bgppkt.RF_IPv6_UC
		nh, err = bgppkt.NewPathAttributeMpReachNLRI(fam, []bgppkt.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
	}
	if err != nil {
		return nil, fmt.Errorf("next hop of %s: %w", p, err)
	}
	attrs = append(attrs, nh)
	if len(g.cfg.Communities) > 0 {
		attrs = append(attrs, bgppkt.NewPathAttributeCommunities(g.cfg.Communities))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs}, nil
}

// Peers implements Speaker.
func (g *GoBGP) Peers(ctx context.Context) ([]PeerStatus, error) {
	if g.srv == nil {
		return nil, nil
	}
	var out []PeerStatus
	var errs []error
	err := g.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err != nil {
			errs = append(errs, fmt.Errorf("GoBGP lists a peer at %w", err))
			return
		}
		st := PeerStatus{Address: addr, ASN: p.GetConf().GetPeerAsn(), State: apiStateName(p.GetState().GetSessionState())}
		st.GracefulRestart = p.GetGracefulRestart().GetEnabled() && remoteOffersGR(p.GetState().GetRemoteCap())
		if st.State == StateEstablished {
			st.Since = p.GetTimers().GetState().GetUptime().AsTime()
		}
		out = append(out, st)
	})
	slices.SortFunc(out, func(a, b PeerStatus) int { return a.Address.Compare(b.Address) })
	return out, errors.Join(append(errs, err)...)
}

func remoteOffersGR(caps []*api.Capability) bool {
	for _, c := range caps {
		if c.GetGracefulRestart() != nil {
			return true
		}
	}
	return false
}

// peerEvent turns GoBGP's state notifications into PeerStatus.
func (g *GoBGP) peerEvent(ev *apiutil.WatchEventMessage_PeerEvent, t time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	st := ev.Peer.State
	gr := false
	for _, c := range st.RemoteCap {
		if _, ok := c.(*bgppkt.CapGracefulRestart); ok {
			gr = true
		}
	}
	g.onPeer(PeerStatus{Address: st.NeighborAddress, ASN: st.PeerASN, State: fsmStateName(st.SessionState), GracefulRestart: gr, Since: t})
}

func fsmStateName(s bgppkt.FSMState) string {
	switch s {
	case bgppkt.BGP_FSM_IDLE:
		return StateIdle
	case bgppkt.BGP_FSM_CONNECT:
		return StateConnect
	case bgppkt.BGP_FSM_ACTIVE:
		return StateActive
	case bgppkt.BGP_FSM_OPENSENT:
		return StateOpenSent
	case bgppkt.BGP_FSM_OPENCONFIRM:
		return StateOpenConfirm
	case bgppkt.BGP_FSM_ESTABLISHED:
		return StateEstablished
	}
	return s.String()
}

func apiStateName(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_SESSION_STATE_CONNECT:
		return StateConnect
	case api.PeerState_SESSION_STATE_ACTIVE:
		return StateActive
	case api.PeerState_SESSION_STATE_OPENSENT:
		return StateOpenSent
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return StateOpenConfirm
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return StateEstablished
	}
	return StateIdle
}

// Stop implements Speaker. GoBGP's StopBgp with AllowGracefulRestart
// closes the sessions that negotiated graceful restart without a
// NOTIFICATION (RFC 4724: the peer keeps our routes, marked stale) and
// sends a Cease on the others.
func (g *GoBGP) Stop(ctx context.Context, keepGraceful bool) error {
	if g.srv == nil {
		return nil
	}
	err := g.srv.StopBgp(ctx, &api.StopBgpRequest{AllowGracefulRestart: keepGraceful})
	g.stopWatch()
	g.srv, g.peers, g.cfg = nil, nil, Config{}
	if err != nil {
		return fmt.Errorf("stopping BGP: %w", err)
	}
	return nil
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/bgp"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// bgpStopTimeout bounds the closing of the sessions at exit.
const bgpStopTimeout = 5 * time.Second

// routerIDFunc finds the router ID of a config that names none: the first
// IPv4 address of the interface toward a peer.
type routerIDFunc func(peer netip.Addr) (netip.Addr, error)

// bgpConfig is the speaker's view of the file's bgp: section (nil: none).
func bgpConfig(c *config.BGP, routerID routerIDFunc) (*bgp.Config, error) {
	if c == nil {
		return nil, nil
	}
	out := &bgp.Config{ASN: uint32(c.ASN), RouterID: c.RouterIDAddr(), Communities: c.CommunityValues(),
		// ipvsd's dataplane is IPVS in the kernel: it forwards while the
		// daemon restarts.
		ForwardingPreserved: true}
	for i := range c.Peers {
		p := &c.Peers[i]
		out.Peers = append(out.Peers, bgp.Peer{
			Address: p.Addr(), ASN: uint32(p.ASN), Port: uint16(p.Port), HoldTime: p.HoldDuration(),
			Password: p.Password, Multihop: uint8(p.Multihop), SourceAddress: p.SourceAddr(),
			GracefulRestart: *p.GracefulRestart, RestartTime: p.RestartDuration(),
		})
	}
	if !out.RouterID.IsValid() {
		id, err := routerID(out.Peers[0].Address)
		if err != nil {
			return nil, fmt.Errorf("bgp.routerID: not set, and the peering interface gives none (set it): %w", err)
		}
		out.RouterID = id
	}
	return out, nil
}

// bgpPart is the announcer and what feeds it, for one daemon.
type bgpPart struct {
	log *zap.Logger
	ann *bgp.Announcer
	// ctx is the daemon's: the announcer works until it stops.
	ctx context.Context
}

// newBGPPart builds the announcer on GoBGP, with its metrics m, and
// applies c (nil: no bgp: section). Nothing is announced before the
// first sync.
func newBGPPart(ctx context.Context, log *zap.Logger, m *bgp.Metrics, c *bgp.Config) (*bgpPart, error) {
	var ann *bgp.Announcer
	sp := bgp.NewGoBGP(log, func(st bgp.PeerStatus) { ann.PeerChanged(st) })
	ann = bgp.NewAnnouncer(log, sp, m)
	if err := ann.SetConfig(ctx, c); err != nil {
		return nil, err
	}
	return &bgpPart{log: log, ann: ann, ctx: ctx}, nil
}

// announce is the source's Announce hook. A BGP failure is logged, never
// a sync error: the dataplane works without its routes announced.
func (b *bgpPart) announce(vips []netip.Addr) {
	if err := b.ann.SetVIPs(b.ctx, vips); err != nil {
		b.log.Error("bgp: announcing", zap.Error(err))
	}
}

// reloaded is the source's Reloaded hook: a changed bgp: section applies
// to the sessions alone. One whose router ID cannot be found keeps the
// running one.
func (b *bgpPart) reloaded(cfg *config.Config) {
	c, err := bgpConfig(cfg.BGP, netlinkutil.FirstIPv4Toward)
	if err == nil {
		err = b.ann.SetConfig(b.ctx, c)
	}
	if err != nil {
		b.log.Error("bgp: applying the reloaded bgp: section", zap.Error(err))
	}
}

// stop closes the sessions as the daemon exits: after a stop asked for
// (SIGTERM) the peers that negotiated graceful restart keep the routes;
// after a failure every peer withdraws them.
func (b *bgpPart) stop(asked bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), bgpStopTimeout)
	defer cancel()
	return b.ann.Stop(ctx, asked)
}

// statusReport is what /status serves and `ipvsd status` reads.
type statusReport struct {
	BGP bgp.Status `json:"bgp"`
}

// statusHandler serves the announcer's status as JSON.
func (b *bgpPart) statusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := b.ann.Status(r.Context())
		if err != nil {
			b.log.Warn("bgp: status", zap.Error(err))
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(statusReport{BGP: st}); err != nil && !errors.Is(err, context.Canceled) {
			b.log.Debug("writing /status", zap.Error(err))
		}
	})
}

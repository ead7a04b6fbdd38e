package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"
)

// withdrawPoll is how often Withdraw looks at the sessions.
const withdrawPoll = 100 * time.Millisecond

// Withdraw removes our routes from every peer of cfg after the daemon is
// gone (ipvsd cleanup). A daemon stopped with SIGTERM leaves its routes
// with the peers that negotiated graceful restart, stale, for the restart
// time; nothing else would take them away sooner. Withdraw opens a session
// with each peer announcing nothing: once it is established the speaker
// sends its End-of-RIB, which ends the graceful restart (RFC 4724 4.2: the
// peer drops every stale route), and Withdraw then closes the session
// with a Cease, on which a peer without graceful restart drops them too.
// It waits for the sessions until ctx is done, and names each peer it
// could not reach.
func Withdraw(ctx context.Context, log *zap.Logger, sp Speaker, cfg Config) error {
	// Not a restart: a peer flushes our stale routes as the session comes up.
	cfg.ForwardingPreserved = false
	if err := sp.Announce(ctx, nil); err != nil {
		return err
	}
	if err := sp.Configure(ctx, cfg); err != nil {
		return errors.Join(err, sp.Stop(context.WithoutCancel(ctx), false))
	}
	pending := map[netip.Addr]bool{}
	for _, p := range cfg.Peers {
		pending[p.Address] = true
	}
	tick := time.NewTicker(withdrawPoll)
	defer tick.Stop()
	for len(pending) > 0 {
		peers, err := sp.Peers(ctx)
		if err != nil {
			return errors.Join(err, sp.Stop(context.WithoutCancel(ctx), false))
		}
		for _, p := range peers {
			if p.State == StateEstablished && pending[p.Address] {
				delete(pending, p.Address)
				log.Info(fmt.Sprintf("bgp: peer %s: every route withdrawn", p.Address), zap.Stringer("peer", p.Address))
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			var missed []string
			for a := range pending {
				missed = append(missed, a.String())
			}
			slices.Sort(missed)
			return errors.Join(fmt.Errorf("bgp: no session with %v: their routes stay until their graceful-restart timer ends: %w", missed, ctx.Err()),
				sp.Stop(context.WithoutCancel(ctx), false))
		}
	}
	// GoBGP sends the End-of-RIB as soon as the session is up; whether
	// it or the Cease reaches the peer first, the peer drops our routes.
	return sp.Stop(context.WithoutCancel(ctx), false)
}

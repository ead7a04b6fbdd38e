package reconciler

import (
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// publisher writes the valid desired services to desired.json for
// inspection tools (`ipvsd list --drift`). The file holds the whole state,
// so a write costs O(n): changes are coalesced into at most one write per
// interval, which keeps a burst of one-service changes O(1) each, and an
// unchanged state costs nothing.
type publisher struct {
	store    runstate.DesiredStore // an empty Path publishes nothing
	interval time.Duration
	pending  bool // the valid desired services changed since last written
	last     time.Time
}

// changed notes that the valid desired services changed.
func (p *publisher) changed() { p.pending = true }

// due reports whether a pending change may be written at now.
func (p *publisher) due(now time.Time) bool {
	return p.pending && p.store.Path != "" && p.wait(now) == 0
}

// write publishes want, the valid desired services, and starts a new
// interval even when it fails, so a failing disk is not retried on every
// sync.
func (p *publisher) write(now time.Time, want map[ipvs.Key]*desired.VirtualServer) error {
	p.last = now
	if err := p.store.Publish(want); err != nil {
		return err
	}
	p.pending = false
	return nil
}

// wait is how long until a pending change may be written: zero when nothing
// is pending or it is due now.
func (p *publisher) wait(now time.Time) time.Duration {
	if !p.pending || p.store.Path == "" {
		return 0
	}
	if wait := p.last.Add(p.interval).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

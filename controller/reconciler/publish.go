package reconciler

import (
	"maps"
	"sync"
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
//
// Once a write takes longer than backgroundAfter, the writes go to a
// goroutine of their own: at 10,000 Services under the lab's emulation one
// took 0.3 s, a third of the CPU of the changes it followed, and the next
// change waited for it. The background writer takes the changes handed
// to it (those handed over meanwhile merged over those not yet written);
// its error is reported by the next sync.
//
// Writes are also spaced by their cost (publishShare): at 10,000 Services
// x 10 endpoints one takes some 40 ms natively (BenchmarkPublishOneChange
// 10000) and 0.3 s or more under the lab's emulation, so one a second
// during a stream of changes kept a vCPU some 30 % busy, and its garbage
// added to the collections that slowed the changes they met (issue 15).
// The file is for inspection; at that size it may then lag the kernel by
// some seconds under emulation, and by the 1 s interval natively.
type publisher struct {
	store    runstate.DesiredStore // an empty Path publishes nothing
	interval time.Duration
	pending  bool // the valid desired services changed since last written
	last     time.Time
	// took is how long the last write in the sync took.
	took time.Duration
	bg   *backgroundWriter // nil: writes are made in the sync
}

// publishShare bounds the share of the time writes of desired.json take:
// the next is due no sooner than this many times the last one's length
// after it began.
const publishShare = 20

// every is the least time from one write to the next.
func (p *publisher) every() time.Duration {
	took := p.took
	if p.bg != nil {
		took = p.bg.lastTook()
	}
	return max(p.interval, publishShare*took)
}

// backgroundAfter is how long a write in the sync may take before the
// writes move to the background.
var backgroundAfter = 100 * time.Millisecond

// backgroundFrom is the number of desired virtual servers from which even
// the first write goes to the background: the cold start's write of
// 10,000 services x 10 real servers took 8.9 s of CPU under the lab's
// emulation, all of it between the last IPVS write and the cold start's
// end, and a write that large is never quick.
var backgroundFrom = 1000

// changed notes that the valid desired services changed.
func (p *publisher) changed() { p.pending = true }

// due reports whether a pending change may be written at now.
func (p *publisher) due(now time.Time) bool {
	return p.pending && p.store.Path != "" && p.wait(now) == 0
}

// write publishes changes, what changed of the valid desired services
// since the last write (runstate.DesiredStore.PublishChanges), of which
// there are size, and starts a new interval even when it fails, so a
// failing disk is not retried on every sync. In the background it returns
// the last background write's error.
func (p *publisher) write(now time.Time, changes map[ipvs.Key]*desired.VirtualServer, size int) error {
	p.last = now
	if p.bg == nil && size >= backgroundFrom {
		p.bg = newBackgroundWriter(&p.store)
	}
	if p.bg != nil {
		p.pending = false
		return p.bg.hand(changes)
	}
	start := time.Now()
	err := p.store.PublishChanges(changes)
	p.took = time.Since(start)
	if p.took > backgroundAfter {
		// From now on the store is the writer's alone.
		p.bg = newBackgroundWriter(&p.store)
	}
	if err != nil {
		return err
	}
	p.pending = false
	return nil
}

// backgroundWriter publishes the changes handed to it.
type backgroundWriter struct {
	mu   sync.Mutex
	next map[ipvs.Key]*desired.VirtualServer // changes not yet written, the latest of each key; nil: none
	err  error                               // of the last write, not yet reported
	took time.Duration                       // the last write's length
	wake chan struct{}
	idle chan struct{} // closed and replaced as each write ends, for tests
	busy bool          // a write is under way, for tests
}

func newBackgroundWriter(store *runstate.DesiredStore) *backgroundWriter {
	w := &backgroundWriter{wake: make(chan struct{}, 1), idle: make(chan struct{})}
	go w.run(store)
	return w
}

// hand gives the writer changes (the valid desired values are never
// changed in place, so the map's values may be shared), merged over those
// not written yet, and returns the error of a write since the last call.
func (w *backgroundWriter) hand(changes map[ipvs.Key]*desired.VirtualServer) error {
	w.mu.Lock()
	if w.next == nil {
		w.next = changes
	} else {
		maps.Copy(w.next, changes)
	}
	err := w.err
	w.err = nil
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return err
}

func (w *backgroundWriter) run(store *runstate.DesiredStore) {
	for range w.wake {
		w.mu.Lock()
		want := w.next
		w.next = nil
		w.busy = want != nil
		w.mu.Unlock()
		if want == nil {
			continue
		}
		start := time.Now()
		err := store.PublishChanges(want)
		w.mu.Lock()
		w.took = time.Since(start)
		if err != nil {
			w.err = err
		}
		w.busy = false
		close(w.idle)
		w.idle = make(chan struct{})
		w.mu.Unlock()
	}
}

// lastTook is how long the last write took.
func (w *backgroundWriter) lastTook() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.took
}

// wait is how long until a pending change may be written: zero when nothing
// is pending or it is due now.
func (p *publisher) wait(now time.Time) time.Duration {
	if !p.pending || p.store.Path == "" {
		return 0
	}
	if wait := p.last.Add(p.every()).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

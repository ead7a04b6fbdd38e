package reconciler

import (
	"fmt"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// resyncSchedule decides when a sync dumps the kernel and repairs drift
// instead of trusting the model: every interval, and sooner when asked or
// when the model is in doubt.
type resyncSchedule struct {
	interval time.Duration
	needed   bool // asked for, or the model is in doubt
	last     time.Time
}

// request makes the next sync a full resync.
func (s *resyncSchedule) request() { s.needed = true }

func (s *resyncSchedule) due(now time.Time) bool {
	return s.needed || now.Sub(s.last) >= s.interval
}

// done records a full resync taken at now.
func (s *resyncSchedule) done(now time.Time) {
	s.needed = false
	s.last = now
}

// finished moves the start of the next interval to the end of the full
// resync, at now: a resync that outlasts its interval (a dump of 100,000
// destinations under emulation takes over a minute) must leave room for
// partial syncs, or every sync would dump and each change wait for one.
func (s *resyncSchedule) finished(now time.Time) {
	if now.After(s.last) {
		s.last = now
	}
}

// dumpIfDue dumps the kernel when a full resync is due and returns its
// services by key; nil when none is due. On error the resync stays due
// and the sync must stop: without the dump it cannot tell drift from
// change.
func (r *Reconciler) dumpIfDue(now time.Time, res *Result) (*tableDump, error) {
	if r.sweep != nil {
		res.Full = true // the sweep goes on with its dump
		return nil, nil
	}
	if !r.resync.due(now) {
		return nil, nil
	}
	res.Full = true
	res.Dumps++
	actual, ok, err := r.takePrefetched(res)
	if !ok {
		var dump []ipvs.ServiceWithDests
		dump, err = r.deps.Kernel.Dump()
		actual = indexDump(dump)
	}
	if err != nil {
		r.resync.request()
		return nil, fmt.Errorf("dumping IPVS table: %w", err)
	}
	// Ops that find the kernel unlike the dump ask for another.
	r.resync.done(now)
	return actual, nil
}

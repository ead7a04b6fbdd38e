package reconciler

import (
	"maps"
	"slices"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// drain is a real server at weight 0 waiting for its connections to end.
// The deadline lives only in memory: after a restart a drain starts afresh,
// which at worst doubles its bound once.
type drain struct {
	deadline  time.Time // delete regardless from then on
	nextCheck time.Time // read its connection counts from then on
}

// drainRef names one draining real server.
type drainRef struct {
	svc  ipvs.Key
	dest ipvs.DestKey
}

// drainer keeps the books of graceful removal: which real servers drain,
// until when, and when their connection counts are next worth reading. It
// never touches the kernel; the reconciler does the writes and reads and
// tells the drainer what they found.
//
// It holds drains only of services in the reconciler's model: whoever drops
// a service's model forgets its drains too.
type drainer struct {
	// checkInterval is the least time between two reads of one real
	// server's connection counts.
	checkInterval time.Duration
	// bySvc holds the drains of each service that has any. A service
	// whose last drain ends is removed, so walking bySvc costs the
	// draining services and not every service.
	bySvc map[ipvs.Key]map[ipvs.DestKey]drain
}

// start begins draining dk of k, to be deleted at the latest after
// timeout, unless it drains already; it reports whether it began one.
func (d *drainer) start(k ipvs.Key, dk ipvs.DestKey, now time.Time, timeout time.Duration) bool {
	if _, ok := d.bySvc[k][dk]; ok {
		return false
	}
	if d.bySvc == nil {
		d.bySvc = map[ipvs.Key]map[ipvs.DestKey]drain{}
	}
	dests := d.bySvc[k]
	if dests == nil {
		dests = map[ipvs.DestKey]drain{}
		d.bySvc[k] = dests
	}
	dests[dk] = drain{deadline: now.Add(timeout), nextCheck: now.Add(d.checkInterval)}
	return true
}

// stop ends the drain of dk in k, because the real server was deleted or is
// desired again, and reports whether it was draining.
func (d *drainer) stop(k ipvs.Key, dk ipvs.DestKey) bool {
	dests := d.bySvc[k]
	if _, ok := dests[dk]; !ok {
		return false
	}
	delete(dests, dk)
	if len(dests) == 0 {
		d.forgetService(k)
	}
	return true
}

// forgetService ends every drain of k: the service is gone, or its model is
// rebuilt from scratch.
func (d *drainer) forgetService(k ipvs.Key) {
	delete(d.bySvc, k)
	if len(d.bySvc) == 0 {
		// A map that once held many keys keeps its buckets, and ranging
		// over it costs them all: start afresh when it empties.
		d.bySvc = nil
	}
}

// prune ends the drains of k whose real server present says is no longer
// there: removed behind our back, so there is nothing left to drain.
func (d *drainer) prune(k ipvs.Key, present func(ipvs.DestKey) bool) {
	for dk := range d.bySvc[k] {
		if !present(dk) {
			d.stop(k, dk)
		}
	}
}

// draining reports whether any of k's real servers drains.
func (d *drainer) draining(k ipvs.Key) bool { return len(d.bySvc[k]) > 0 }

// of returns the draining real servers of k, sorted.
func (d *drainer) of(k ipvs.Key) []ipvs.DestKey {
	return slices.SortedFunc(maps.Keys(d.bySvc[k]), ipvs.DestKey.Compare)
}

// due sorts the drains at time now into those past their deadline and the
// services whose counts should be read: those with a drain whose check is
// due, or, when fresh counts are at hand anyway (fresh), any drain still
// within its deadline. Both lists are in key order.
func (d *drainer) due(now time.Time, fresh bool) (timedOut []drainRef, check []ipvs.Key) {
	if len(d.bySvc) == 0 {
		// Nothing drains: no sort and no iterator, so a sync that
		// changes nothing allocates nothing.
		return nil, nil
	}
	for _, k := range slices.SortedFunc(maps.Keys(d.bySvc), ipvs.Key.Compare) {
		checkDue := false
		for _, dk := range d.of(k) {
			dr := d.bySvc[k][dk]
			if !now.Before(dr.deadline) {
				timedOut = append(timedOut, drainRef{k, dk})
				continue
			}
			checkDue = checkDue || fresh || !now.Before(dr.nextCheck)
		}
		if checkDue {
			check = append(check, k)
		}
	}
	return timedOut, check
}

// checked records that dk of k still had connections at now: its counts
// are next read one check interval later.
func (d *drainer) checked(k ipvs.Key, dk ipvs.DestKey, now time.Time) {
	dests := d.bySvc[k]
	if dr, ok := dests[dk]; ok {
		dr.nextCheck = now.Add(d.checkInterval)
		dests[dk] = dr
	}
}

// summary counts the real servers still draining and returns the earliest
// time one of them needs a look (its next check or its deadline); zero
// when none drains.
func (d *drainer) summary() (n int, wake time.Time) {
	for _, dests := range d.bySvc {
		for _, dr := range dests {
			n++
			t := dr.nextCheck
			if dr.deadline.Before(t) {
				t = dr.deadline
			}
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
		}
	}
	return n, wake
}

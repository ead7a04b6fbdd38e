package reconciler

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// drain is a real server at weight 0 waiting for its connections to end.
// The deadline lives only in memory: after a restart a drain starts afresh,
// which at worst doubles its bound once.
type drain struct {
	deadline  time.Time // delete regardless from then on
	nextCheck time.Time // read its connection counts from then on
}

// startDrain takes a stale real server out of rotation. New connections go
// elsewhere at once; established ones continue until they end or the
// service's drain timeout passes.
func (r *Reconciler) startDrain(st *svcState, op desired.Op, want *desired.VirtualServer, now time.Time, res *Result) error {
	k, dk := op.Service.Key, op.Dest.DestKey
	_, draining := st.drains[dk]
	if op.Dest.Weight != 0 {
		// Also repairs a weight raised by hand during a drain.
		d := op.Dest
		d.Weight = 0
		if err := r.deps.Kernel.UpdateDestination(k, d); err != nil {
			return fmt.Errorf("draining real server %s of %s: %w", dk, k, err)
		}
		st.setDest(d)
		res.drainWrites++
	}
	if draining {
		return nil
	}
	if st.drains == nil {
		st.drains = map[ipvs.DestKey]drain{}
	}
	if r.draining == nil {
		r.draining = map[ipvs.Key]bool{}
	}
	r.draining[k] = true
	st.drains[dk] = drain{deadline: now.Add(want.EffectiveDrainTimeout()), nextCheck: now.Add(r.cfg.DrainCheckInterval)}
	res.DrainsStarted++
	r.log.Info("draining real server", zap.Stringer("service", k), zap.Stringer("dest", dk),
		zap.String("owner", want.Owner), zap.Duration("timeout", want.EffectiveDrainTimeout()))
	return nil
}

// checkDrains deletes draining real servers that timed out or have no
// connections left. Counts come from the full dump when this sync took one;
// otherwise only services with a check due are read.
func (r *Reconciler) checkDrains(actual map[ipvs.Key]*ipvs.ServiceWithDests, now time.Time, res *Result) {
	var due []ipvs.Key
	for _, k := range r.drainingKeys() {
		st := r.svcs[k]
		checkDue := false
		for _, dk := range slices.SortedFunc(maps.Keys(st.drains), ipvs.DestKey.Compare) {
			dr := st.drains[dk]
			if !now.Before(dr.deadline) {
				r.finishDrain(k, dk, "timeout", res)
				continue
			}
			checkDue = checkDue || actual != nil || !now.Before(dr.nextCheck)
		}
		if checkDue {
			due = append(due, k)
		}
	}
	if len(due) > 0 {
		counts, err := r.readDests(due, actual, res)
		if err != nil {
			res.fail(err)
		}
		for _, k := range due {
			dests, ok := counts[k]
			if !ok {
				continue
			}
			r.checkIdle(k, dests, now, res)
		}
	}
	r.summarizeDrains(now, res)
}

func (r *Reconciler) checkIdle(k ipvs.Key, dests []ipvs.Destination, now time.Time, res *Result) {
	st := r.svcs[k]
	if st == nil {
		return
	}
	for _, dk := range slices.SortedFunc(maps.Keys(st.drains), ipvs.DestKey.Compare) {
		i := slices.IndexFunc(dests, func(d ipvs.Destination) bool { return d.DestKey == dk })
		switch {
		case i < 0:
			// Removed behind our back; nothing left to drain.
			st.removeDest(dk)
			res.DrainsFinished++
		case dests[i].ActiveConns+dests[i].InactiveConns == 0:
			r.finishDrain(k, dk, "idle", res)
		default:
			dr := st.drains[dk]
			dr.nextCheck = now.Add(r.cfg.DrainCheckInterval)
			st.drains[dk] = dr
		}
	}
}

func (r *Reconciler) finishDrain(k ipvs.Key, dk ipvs.DestKey, why string, res *Result) {
	if err := r.deleteDest(k, dk, res); err != nil {
		res.fail(err)
		return
	}
	res.DrainsFinished++
	r.log.Info("drained real server deleted", zap.Stringer("service", k), zap.Stringer("dest", dk), zap.String("reason", why))
}

// readDests returns the current real servers of the given services.
func (r *Reconciler) readDests(keys []ipvs.Key, actual map[ipvs.Key]*ipvs.ServiceWithDests, res *Result) (map[ipvs.Key][]ipvs.Destination, error) {
	out := make(map[ipvs.Key][]ipvs.Destination, len(keys))
	if actual != nil {
		for _, k := range keys {
			if a := actual[k]; a != nil {
				out[k] = a.Destinations
			}
		}
		return out, nil
	}
	var errs []error
	for _, k := range keys {
		res.Dumps++
		ds, err := r.deps.Kernel.GetDestinations(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading real servers of %s: %w", k, err))
			continue
		}
		out[k] = ds
	}
	return out, errors.Join(errs...)
}

// drainingKeys returns the services with draining real servers, sorted. It
// walks the draining index, not every service, and prunes the index of
// services whose drains ended (or that were deleted or refreshed).
func (r *Reconciler) drainingKeys() []ipvs.Key {
	var ks []ipvs.Key
	for k := range r.draining {
		if st := r.svcs[k]; st != nil && len(st.drains) > 0 {
			ks = append(ks, k)
		} else {
			delete(r.draining, k)
		}
	}
	if len(ks) == 0 {
		// A map that once held many keys keeps its buckets, and ranging
		// over it costs them all: start afresh when it empties.
		r.draining = nil
	}
	slices.SortFunc(ks, ipvs.Key.Compare)
	return ks
}

// summarizeDrains counts what still drains and when the next sync is due
// for it.
func (r *Reconciler) summarizeDrains(now time.Time, res *Result) {
	var next time.Time
	for k := range r.draining {
		st := r.svcs[k]
		if st == nil {
			continue
		}
		for _, dr := range st.drains {
			res.Draining++
			t := dr.nextCheck
			if dr.deadline.Before(t) {
				t = dr.deadline
			}
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
	}
	if !next.IsZero() {
		res.RequeueAfter = max(next.Sub(now), time.Millisecond)
	}
}

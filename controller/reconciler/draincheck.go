package reconciler

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// startDrain takes a stale real server out of rotation. New connections go
// elsewhere at once; established ones continue until they end or the
// service's drain timeout passes.
func (r *Reconciler) startDrain(st *svcState, op desired.Op, want *desired.VirtualServer, now time.Time, res *Result) error {
	k, dk := op.Service.Key, op.Dest.DestKey
	if op.Dest.Weight != 0 {
		// Also repairs a weight raised by hand during a drain.
		d := op.Dest
		d.Weight = 0
		if err := r.deps.Kernel.UpdateDestination(k, d); err != nil {
			return &OpError{Op: desired.OpDrainDest, Service: k, Dest: dk, Err: err}
		}
		st.setDest(d)
		res.drainWrites++
	}
	if !r.drains.start(k, dk, now, want.EffectiveDrainTimeout()) {
		return nil
	}
	res.DrainsStarted++
	r.log.Info("draining real server", zap.Stringer("service", k), zap.Stringer("dest", dk),
		zap.String("owner", want.Owner), zap.Duration("timeout", want.EffectiveDrainTimeout()))
	return nil
}

// checkDrains deletes draining real servers that timed out or have no
// connections left. Counts come from the full dump when this sync took one;
// otherwise only services with a check due are read.
func (r *Reconciler) checkDrains(actual *tableDump, now time.Time, res *Result) {
	timedOut, due := r.drains.due(now, actual != nil)
	for _, d := range timedOut {
		r.finishDrain(d.svc, d.dest, "timeout", res)
	}
	if len(due) > 0 {
		counts, err := r.readDests(due, actual, res)
		if err != nil {
			res.fail(err)
		}
		for _, k := range due {
			if dests, ok := counts[k]; ok {
				r.checkIdle(k, dests, now, res)
			}
		}
	}
	var wake time.Time
	res.Draining, wake = r.drains.summary()
	if !wake.IsZero() {
		res.RequeueAfter = max(wake.Sub(now), time.Millisecond)
	}
}

// checkIdle compares k's draining real servers with fresh counts.
func (r *Reconciler) checkIdle(k ipvs.Key, dests []ipvs.DestinationState, now time.Time, res *Result) {
	for _, dk := range r.drains.of(k) {
		i := slices.IndexFunc(dests, func(d ipvs.DestinationState) bool { return d.DestKey == dk })
		switch {
		case i < 0:
			// Removed behind our back; nothing left to drain.
			r.forgetDest(k, dk)
			res.DrainsFinished++
		case dests[i].ActiveConns+dests[i].InactiveConns == 0:
			r.finishDrain(k, dk, "idle", res)
		default:
			r.drains.checked(k, dk, now)
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

// readDests returns the current real servers of the given services: from
// the full dump when this sync took one, else one read per service.
func (r *Reconciler) readDests(keys []ipvs.Key, actual *tableDump, res *Result) (map[ipvs.Key][]ipvs.DestinationState, error) {
	out := make(map[ipvs.Key][]ipvs.DestinationState, len(keys))
	var errs []error
	for _, k := range keys {
		if actual != nil {
			// A matched entry has no real servers: read them.
			if a, ok := actual.dumped(k); ok {
				if a != nil {
					out[k] = a.Destinations
				}
				continue
			}
		}
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

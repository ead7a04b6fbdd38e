package reconciler

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// plan is the work for one virtual server in one sync. Its ops are
// diffed only when it is applied (applyPlan): a cold start of 10,000
// services x 10 real servers held some 110,000 ops of 340 bytes at once
// when every plan carried them from planning on (issue 15).
type plan struct {
	key  ipvs.Key
	want *desired.VirtualServer // nil: the service is no longer desired
	// wasOwned: the key was in the ownership record before this sync.
	wasOwned bool
	// refresh: a full dump was taken; have replaces the model (nil: the
	// service is not in the kernel).
	refresh bool
	have    *ipvs.ServiceConfig
	// diffed holds the ops while the plan's group is applied (isDiffed),
	// and ahead the outcomes of those that went ahead (batch.go).
	diffed   []desired.Op
	isDiffed bool
	ahead    []aheadWrite
}

// creates reports whether the plan adds the virtual server: the first op
// DiffNormalized returns for a desired service the kernel lacks.
func (p *plan) creates() bool { return p.want != nil && p.have == nil }

// ops are the plan's operations, diffed now.
func (p *plan) ops() []desired.Op {
	if p.isDiffed {
		return p.diffed
	}
	return desired.DiffNormalized(p.want, p.have)
}

// planServices decides which virtual servers to diff. With a full dump
// (actual non-nil) a sweep begins (sweep.go): each sync compares a slice of
// the owned or desired services with the dump, the cold start all of them
// at once. Otherwise, and for the keys outside the slice, only the dirty
// ones (desired value changed since it was last applied, or last apply
// failed) are diffed against the model, so the cost follows the change; a
// failed one whose retry is not yet due waits (a full resync retries it).
// Result.Planned counts the services looked at.
func (r *Reconciler) planServices(actual *tableDump, now time.Time, res *Result) []plan {
	plans := r.planBuf[:0]
	r.planBuf = nil
	add := func(k ipvs.Key, vs *desired.VirtualServer, have *ipvs.ServiceConfig, refresh bool) {
		plans = append(plans, plan{key: k, want: vs, wasOwned: r.ownership.owns(k), refresh: refresh, have: have})
	}
	if actual != nil {
		r.startSweep(actual)
	}
	var waiting []ipvs.Key
	if s := r.sweep; s == nil {
		waiting = r.planDirty(nil, add, now, res)
	} else {
		slice := r.nextSlice()
		plans = slices.Grow(plans, len(slice)+len(r.want.dirty))
		if s.sliced {
			inSlice := make(map[ipvs.Key]bool, len(slice))
			for _, k := range slice {
				inSlice[k] = true
			}
			waiting = r.planDirty(func(k ipvs.Key) bool { return inSlice[k] }, add, now, res)
		}
		r.planSlice(slice, add, res)
	}
	// Every dirty key is planned, waits for its retry or needs nothing;
	// what fails is marked again.
	r.want.clearDirty()
	for _, k := range waiting {
		r.want.markDirty(k)
	}
	slices.SortFunc(plans, func(a, b plan) int { return a.key.Compare(b.key) })
	return plans
}

// keepPlans keeps the list of plans applied, cleared, for the next sync:
// one as long as a sweep's slice or a change's, not the cold start's.
func (r *Reconciler) keepPlans(plans []plan) {
	const keep = 4 * sliceDests
	if cap(plans) <= keep {
		clear(plans[:cap(plans)])
		r.planBuf = plans[:0]
	}
}

// planDirty plans the dirty keys, except those skip takes, against the
// model, and returns those whose retry is not due yet.
func (r *Reconciler) planDirty(skip func(ipvs.Key) bool, add planAdder, now time.Time, res *Result) (waiting []ipvs.Key) {
	for k := range r.want.dirty {
		if skip != nil && skip(k) {
			continue
		}
		w := r.want.byKey[k]
		var wvs *desired.VirtualServer
		if w != nil {
			wvs = w.vs
		}
		if st := r.retries.waiting(k, wvs, now); st != nil {
			waiting = append(waiting, k)
			res.Errors = append(res.Errors, st.errWaiting(now))
			continue
		}
		res.Planned++
		switch {
		case w == nil || w.vs == nil:
			// No longer desired, or invalid and kept untouched: no
			// longer a conflict to report.
			delete(r.conflicts, k)
			if st := r.svcs[k]; w == nil && st != nil {
				if have, ok := r.readBeforeDelete(k, st, res); ok {
					add(k, nil, have, true)
				}
			}
		case r.conflicts[k]:
			// Rechecked on the next full resync; never written blind.
		default:
			st := r.svcs[k]
			if st != nil && st.want != nil && desired.EqualNormalized(st.want, w.vs) {
				continue
			}
			var have *ipvs.ServiceConfig
			if st != nil {
				have = &st.have
			}
			add(k, w.vs, have, false)
		}
	}
	return waiting
}

// planAdder adds a plan for k: vs nil deletes it; refresh: have is read
// from the kernel and replaces the model.
type planAdder func(k ipvs.Key, vs *desired.VirtualServer, have *ipvs.ServiceConfig, refresh bool)

// asDumped is written(a), or the model of k itself when a is exactly
// what it says: at a full resync nearly every service, which then costs a
// comparison, not a copy of its real servers (4.5 MB of the 10,000
// services' compare, under the lock changes wait for).
func (r *Reconciler) asDumped(k ipvs.Key, a *ipvs.ServiceWithDests) *ipvs.ServiceConfig {
	if st := r.svcs[k]; a != nil && st != nil && (r.sweep != nil && r.sweep.dump.matched[k] || modelIs(&st.have, a)) {
		return &st.have
	}
	return written(a)
}

// modelIs reports whether the dumped a is m as written, its real servers
// in m's order or, as the kernel lists what was added in order, reversed.
func modelIs(m *ipvs.ServiceConfig, a *ipvs.ServiceWithDests) bool {
	n := len(m.Destinations)
	if len(a.Destinations) != n || a.Service.Canonical() != m.Service {
		return false
	}
	same, reversed := true, true
	for i := range a.Destinations {
		d := a.Destinations[i].Canonical()
		same = same && d == m.Destinations[i]
		reversed = reversed && d == m.Destinations[n-1-i]
		if !same && !reversed {
			return false
		}
	}
	return true
}

// written is a dumped service as it was written (nil for nil), its real
// servers sorted as desired values keep them: the kernel lists them newest
// first, and the diff would otherwise sort a copy.
func written(a *ipvs.ServiceWithDests) *ipvs.ServiceConfig {
	if a == nil {
		return nil
	}
	c := a.Config()
	byKey := func(x, y ipvs.Destination) int { return x.DestKey.Compare(y.DestKey) }
	if slices.IsSortedFunc(c.Destinations, func(x, y ipvs.Destination) int { return byKey(y, x) }) {
		slices.Reverse(c.Destinations) // as the kernel lists what ipvsd added in order
	} else {
		slices.SortFunc(c.Destinations, byKey)
	}
	return &c
}

// dropCreates removes plans that would create a service we have not yet
// claimed: with the record unwritable we must not create what a restarted
// ipvsd would then take for foreign. The next sync tries them again.
func (r *Reconciler) dropCreates(plans []plan) []plan {
	return slices.DeleteFunc(plans, func(p plan) bool {
		drop := p.creates() && !p.wasOwned
		if drop {
			r.want.markDirty(p.key)
		}
		return drop
	})
}

// applyPlan runs one service's ops, keeping the model and the ownership
// record in step with what succeeded. It returns false when the service
// must be looked at again on the next sync.
func (r *Reconciler) applyPlan(p plan, now time.Time, res *Result) bool {
	ops := p.ops()
	// A dump taken before now is stale for the key if the kernel or the
	// model changes: the sweep's plans of services in sync change neither,
	// and marking them made a map of every key per full resync.
	if refreshed := p.refresh && r.refreshModel(p.key, p.have); refreshed || len(ops) > 0 {
		r.wrote(p.key)
	}
	ok := true
	addFailed := false
	r.ahead = p.ahead
	for _, op := range ops {
		if addFailed && (op.Kind == desired.OpDrainDest || op.Kind == desired.OpDeleteDest) {
			// Keep the old real servers while the new ones are missing:
			// capacity must not dip below what is desired.
			continue
		}
		err := r.do(op, p.want, now, res)
		if err == nil {
			continue
		}
		ok = false
		if op.Kind == desired.OpAddService {
			return r.addServiceFailed(p, err, res)
		}
		res.fail(err)
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EEXIST) || outcomeUnknown(err) {
			// The kernel is not what the model says, or may not be (a
			// lost reply): re-read it.
			r.resync.request()
		}
		if op.Kind == desired.OpAddDest || op.Kind == desired.OpUpdateDest {
			addFailed = true
		}
	}
	if len(r.ahead) > 0 {
		// Writes went ahead that applyPlan did not take: the model lacks
		// them; re-read the kernel (cannot happen while the two agree).
		res.fail(fmt.Errorf("%d batched writes of %s not taken", len(r.ahead), p.key))
		r.resync.request()
		r.ahead, ok = nil, false
	}
	if p.want == nil {
		if ok {
			r.dropService(p.key)
			r.ownership.disown(p.key)
		}
		return ok
	}
	st := r.svcs[p.key]
	if st == nil {
		return ok
	}
	if ok {
		st.applied(p.want)
		r.ownership.own(p.key, p.want)
	} else {
		st.want = nil
	}
	return ok
}

// addServiceFailed handles a failed OpAddService and returns whether the
// service is done with until the next full resync.
func (r *Reconciler) addServiceFailed(p plan, err error, res *Result) bool {
	if errors.Is(err, unix.EEXIST) && !p.wasOwned {
		// Created by someone else since we last looked: foreign. The
		// conflict is reported by Sync and rechecked on full resync.
		r.conflicts[p.key] = true
		r.ownership.disown(p.key)
		return true
	}
	res.fail(err)
	if errors.Is(err, unix.EEXIST) {
		r.resync.request()
		return false
	}
	if outcomeUnknown(err) {
		// The kernel may have created it: keep the claim, so the next
		// sync, which re-reads the kernel, adopts it as ours instead of
		// taking it for foreign.
		r.resync.request()
		return false
	}
	if !p.wasOwned {
		// It was not created; do not keep a claim on it.
		r.ownership.disown(p.key)
	}
	return false
}

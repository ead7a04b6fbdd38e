package controller

import (
	"errors"
	"maps"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// plan is the work for one virtual server in one sync.
type plan struct {
	key  ipvs.Key
	want *VirtualServer // nil: the service is no longer desired
	ops  []Op
	// wasOwned: the key was in the ownership record before this sync.
	wasOwned bool
	// refresh: a full dump was taken; have replaces the model (nil: the
	// service is not in the kernel).
	refresh bool
	have    *ipvs.ServiceWithDests
}

func (p *plan) creates() bool { return len(p.ops) > 0 && p.ops[0].Kind == OpAddService }

// planServices decides which virtual servers to diff. With a full dump
// (actual non-nil) every owned or desired service is diffed against the
// kernel; otherwise only those whose desired value changed since it was
// last applied, or whose last apply failed, are diffed against the model.
func (r *Reconciler) planServices(want map[ipvs.Key]*VirtualServer, keep map[ipvs.Key]bool, actual map[ipvs.Key]*ipvs.ServiceWithDests) []plan {
	var plans []plan
	add := func(k ipvs.Key, vs *VirtualServer, have *ipvs.ServiceWithDests, refresh bool) {
		_, owned := r.rec.Services[k]
		plans = append(plans, plan{key: k, want: vs, ops: diff(vs, have), wasOwned: owned, refresh: refresh, have: have})
	}
	if actual != nil {
		clear(r.conflicts)
		for k, vs := range want {
			a := actual[k]
			if _, owned := r.rec.Services[k]; a != nil && !owned {
				r.conflicts[k] = true
				continue
			}
			add(k, vs, a, true)
		}
		for k := range r.rec.Services {
			if want[k] == nil && !keep[k] {
				add(k, nil, actual[k], true)
			}
		}
	} else {
		for k, vs := range want {
			if r.conflicts[k] {
				// Rechecked on the next full resync; never written blind.
				continue
			}
			st := r.svcs[k]
			if st != nil && st.want != nil && equalNormalized(st.want, vs) {
				continue
			}
			var have *ipvs.ServiceWithDests
			if st != nil {
				have = &st.have
			}
			add(k, vs, have, false)
		}
		for k, st := range r.svcs {
			if want[k] == nil && !keep[k] {
				add(k, nil, &st.have, false)
			}
		}
		for k := range r.conflicts {
			if want[k] == nil {
				delete(r.conflicts, k)
			}
		}
	}
	slices.SortFunc(plans, func(a, b plan) int { return cmpKey(a.key, b.key) })
	return plans
}

// dropCreates removes plans that would create a service we have not yet
// claimed: with the record unwritable we must not create what a restarted
// ipvsd would then take for foreign.
func (r *Reconciler) dropCreates(plans []plan) []plan {
	return slices.DeleteFunc(plans, func(p plan) bool { return p.creates() && !p.wasOwned })
}

// applyPlan runs one service's ops, keeping the model and the ownership
// record in step with what succeeded.
func (r *Reconciler) applyPlan(p plan, now time.Time, res *Result) {
	if p.refresh {
		r.refreshModel(p.key, p.have)
	}
	ok := true
	addFailed := false
	for _, op := range p.ops {
		if addFailed && (op.Kind == OpDrainDest || op.Kind == OpDeleteDest) {
			// Keep the old real servers while the new ones are missing:
			// capacity must not dip below what is desired.
			continue
		}
		err := r.do(op, p.want, now, res)
		if err == nil {
			continue
		}
		ok = false
		if op.Kind == OpAddService {
			r.addServiceFailed(p, err, res)
			return
		}
		res.fail(err)
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EEXIST) {
			// The kernel is not what the model says: re-read it.
			r.needFull = true
		}
		if op.Kind == OpAddDest || op.Kind == OpUpdateDest {
			addFailed = true
		}
	}
	if p.want == nil {
		if ok {
			delete(r.svcs, p.key)
			delete(r.rec.Services, p.key)
		}
		return
	}
	st := r.svcs[p.key]
	if st == nil {
		return
	}
	if ok {
		st.want = p.want
		r.rec.Services[p.key] = p.want.Owner
	} else {
		st.want = nil
	}
}

func (r *Reconciler) addServiceFailed(p plan, err error, res *Result) {
	if errors.Is(err, unix.EEXIST) && !p.wasOwned {
		// Created by someone else since we last looked: foreign. The
		// conflict is reported by Sync and rechecked on full resync.
		r.conflicts[p.key] = true
		delete(r.rec.Services, p.key)
		return
	}
	res.fail(err)
	if errors.Is(err, unix.EEXIST) {
		r.needFull = true
		return
	}
	if !p.wasOwned {
		// It was not created; do not keep a claim on it.
		delete(r.rec.Services, p.key)
	}
}

// refreshModel replaces the model of one service with what a full dump
// found, keeping drains of real servers that are still there.
func (r *Reconciler) refreshModel(k ipvs.Key, have *ipvs.ServiceWithDests) {
	st := r.svcs[k]
	if have == nil {
		delete(r.svcs, k)
		return
	}
	if st == nil {
		st = &svcState{}
		r.svcs[k] = st
	}
	st.have = ipvs.ServiceWithDests{Service: normalService(have.Service), Destinations: slices.Clone(have.Destinations)}
	for dk := range st.drains {
		if st.find(dk) < 0 {
			delete(st.drains, dk)
		}
	}
}

func (st *svcState) find(dk ipvs.DestKey) int {
	return slices.IndexFunc(st.have.Destinations, func(d ipvs.Destination) bool { return d.DestKey == dk })
}

func (st *svcState) setDest(d ipvs.Destination) {
	if i := st.find(d.DestKey); i >= 0 {
		st.have.Destinations[i] = d
		return
	}
	st.have.Destinations = append(st.have.Destinations, d)
}

func (st *svcState) removeDest(dk ipvs.DestKey) {
	if i := st.find(dk); i >= 0 {
		st.have.Destinations = slices.Delete(st.have.Destinations, i, i+1)
	}
	delete(st.drains, dk)
}

func sortedKeys(m map[ipvs.Key]bool) []ipvs.Key {
	if len(m) == 0 {
		return nil
	}
	return slices.SortedFunc(maps.Keys(m), cmpKey)
}

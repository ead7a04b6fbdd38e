package reconciler

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// A full resync compares every owned or desired virtual server with a
// dump. At 10,000 Services that compare took about 0.8 s under emulation,
// and a change that came meanwhile waited for all of it: the p99 of
// event-to-kernel latency at 10,000 Services was the compare's length
// (issue 15). Once the kernel is programmed, a full resync is therefore a
// sweep: each sync compares one slice of the keys, in the dump's order
// (sorting 10,000 keys would cost more than a slice), and the
// changes that arrive go in the syncs between the slices. The first full
// resync (the cold start) is one slice: nothing waits on it and slicing
// would only add syncs.

// sliceDests bounds a slice by real servers, desired or dumped: the
// compare's cost follows them, not the number of virtual servers. 1,024
// is about 100 Services of 10 endpoints, a few milliseconds natively
// (go test -run '^$' -bench FullResync10k: longest-later-sync-us). With
// 4,096 the changes that came during a sweep at 10,000 Services waited
// up to 96 ms under emulation, against 40 ms at 100 Services; the sweep's
// whole cost is the same either way.
const sliceDests = 1024

// sweep is a full resync under way.
type sweep struct {
	// dump is the dump the sweep began with. Its matched keys are
	// dropped as they are read again: compared with what is read then,
	// not with the model.
	dump *tableDump
	// keys are the virtual servers still to compare.
	keys []ipvs.Key
	// written are the virtual servers written since the dump: their dump
	// entry may be stale, so their slice reads them again.
	written map[ipvs.Key]bool
	// sliced: the sweep may take more than one sync (not the cold start).
	sliced bool
}

// startSweep begins a full resync with the dump actual. The keys are every
// desired (valid) and every owned virtual server: first those in the dump,
// in its order, then the others (to create, or gone by hand) sorted. A
// conflict no longer desired is forgotten at once, the others are decided
// again in their slice.
func (r *Reconciler) startSweep(actual *tableDump) {
	swept := func(k ipvs.Key) bool {
		w := r.want.byKey[k]
		return w != nil && w.vs != nil || w == nil && r.ownership.owns(k)
	}
	// Sized for the union of both, not their sum: at 10,000 Services
	// that was 0.4 MB more per full resync.
	n := len(r.want.byKey)
	for k := range r.ownership.owned.Services {
		if r.want.byKey[k] == nil {
			n++
		}
	}
	keys := make([]ipvs.Key, 0, n)
	for _, k := range actual.keys {
		// A key read again and found gone stays listed, not indexed.
		if actual.byKey[k] != nil && swept(k) {
			keys = append(keys, k)
		}
	}
	dumped := len(keys)
	for k := range r.want.byKey {
		if swept(k) && actual.byKey[k] == nil {
			keys = append(keys, k)
		}
	}
	for k := range r.ownership.owned.Services {
		if r.want.byKey[k] == nil && actual.byKey[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys[dumped:], ipvs.Key.Compare)
	// A fresh map: a cleared one keeps the buckets of its largest size.
	conflicts := make(map[ipvs.Key]bool, len(r.conflicts))
	for k := range r.conflicts {
		if w := r.want.byKey[k]; w != nil && w.vs != nil {
			conflicts[k] = true
		}
	}
	r.conflicts = conflicts
	_, canReread := r.deps.Kernel.(serviceReader)
	r.sweep = &sweep{
		dump:    actual,
		keys:    keys,
		written: map[ipvs.Key]bool{},
		sliced:  canReread && r.programmed,
	}
}

// nextSlice takes the keys of the sweep's next slice off its list.
func (r *Reconciler) nextSlice() []ipvs.Key {
	s := r.sweep
	n := len(s.keys)
	if s.sliced {
		dests := 0
		for i, k := range s.keys {
			if i > 0 && dests >= sliceDests {
				n = i
				break
			}
			dests += max(1, r.destsOf(k))
		}
	}
	slice := s.keys[:n:n]
	s.keys = s.keys[n:]
	return slice
}

// destsOf is how many real servers comparing k involves.
func (r *Reconciler) destsOf(k ipvs.Key) int {
	n := 0
	if a := r.sweep.dump.byKey[k]; a != nil {
		n = len(a.Destinations)
	}
	if w := r.want.byKey[k]; w != nil && w.vs != nil {
		n = max(n, len(w.vs.Destinations))
	}
	return n
}

// sweepHave is k as the kernel holds it, for the slice being compared:
// from the dump, or read again if k was written since the dump or is
// missing from it while ipvsd programmed it. The kernel resumes a service
// dump that spans several replies by counting the services of every
// network namespace, so a host whose other namespaces change their IPVS
// tables meanwhile (containers with IPVS of their own) gets dumps that
// skip some of ours: seen in the lab as 11 of 300 services missing. ok is
// false when k cannot be read; it is then compared by the next sweep.
func (r *Reconciler) sweepHave(k ipvs.Key, res *Result) (a *ipvs.ServiceWithDests, ok bool) {
	s := r.sweep
	_, canReread := r.deps.Kernel.(serviceReader)
	if a := s.dump.byKey[k]; !canReread || !s.written[k] && (a != nil || r.svcs[k] == nil) {
		return a, true
	}
	res.Dumps++
	delete(s.dump.matched, k)                               // compared with what is read now, not the model
	got, err := r.deps.Kernel.(serviceReader).GetService(k) // checked above; written only when sliced
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil, true
	case err != nil:
		res.fail(fmt.Errorf("reading virtual server %s again: %w", k, err))
		r.resync.request()
		return nil, false
	}
	return &got, true
}

// planSlice plans the keys of slice against the sweep's dump, and ends
// the sweep with its last slice.
func (r *Reconciler) planSlice(slice []ipvs.Key, add planAdder, res *Result) {
	for _, k := range slice {
		w := r.want.byKey[k]
		if w != nil && w.vs == nil {
			continue // invalid: kept untouched
		}
		if w == nil && !r.ownership.owns(k) {
			continue // deleted since the sweep began
		}
		a, ok := r.sweepHave(k, res)
		if !ok {
			continue
		}
		res.Planned++
		delete(r.conflicts, k)
		if w == nil {
			if a == nil || r.keepsOwnership(k, a) {
				add(k, nil, r.asDumped(k, a), true)
			}
			continue
		}
		if a != nil && !r.ownership.owns(k) && !r.adopt(k, w.vs, a, res) {
			r.conflicts[k] = true
			continue
		}
		add(k, w.vs, r.asDumped(k, a), true)
	}
	if len(r.sweep.keys) == 0 {
		r.sweep = nil
		res.SweepDone = true
	} else {
		res.SweepLeft = len(r.sweep.keys)
	}
}

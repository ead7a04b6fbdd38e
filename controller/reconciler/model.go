package reconciler

import (
	"maps"
	"slices"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// svcState is one of our virtual servers as we believe the kernel holds it.
type svcState struct {
	// want is the normalized desired value last applied without error; nil
	// means the next sync must diff this service again.
	want *desired.VirtualServer
	// have models the kernel's service after our writes, without the
	// kernel's counters (the drain check reads them afresh).
	have ipvs.ServiceConfig
	// shared: have.Destinations is want's slice, which nothing changes,
	// so the model is copied before it is changed. A service whose real
	// servers are as desired (nearly every one) then holds them once,
	// not twice: a third of the reconciler's heap at 10,000 services x
	// 10 real servers (issue 15).
	shared bool
}

func (st *svcState) find(dk ipvs.DestKey) int {
	return slices.IndexFunc(st.have.Destinations, func(d ipvs.Destination) bool { return d.DestKey == dk })
}

// own makes have.Destinations the model's own slice, with room for extra
// more, before it is changed.
func (st *svcState) own(extra int) {
	if st.shared {
		st.have.Destinations = append(make([]ipvs.Destination, 0, len(st.have.Destinations)+extra), st.have.Destinations...)
		st.shared = false
	}
}

func (st *svcState) setDest(d ipvs.Destination) {
	st.own(1)
	if i := st.find(d.DestKey); i >= 0 {
		st.have.Destinations[i] = d
		return
	}
	st.have.Destinations = append(st.have.Destinations, d)
}

func (st *svcState) removeDest(dk ipvs.DestKey) {
	if i := st.find(dk); i >= 0 {
		st.own(0)
		st.have.Destinations = slices.Delete(st.have.Destinations, i, i+1)
	}
}

// applied records that want, normalized, was applied without error: when
// the model's real servers are want's, it shares want's slice instead of
// keeping a copy of it.
func (st *svcState) applied(want *desired.VirtualServer) {
	st.want = want
	if st.shared || len(st.have.Destinations) != len(want.Destinations) {
		return
	}
	for _, d := range st.have.Destinations {
		i, ok := slices.BinarySearchFunc(want.Destinations, d.DestKey, func(w ipvs.Destination, k ipvs.DestKey) int { return w.DestKey.Compare(k) })
		if !ok || want.Destinations[i] != d.Canonical() {
			return
		}
	}
	st.have.Destinations, st.shared = want.Destinations, true
}

// refreshModel replaces the model of one service with what a full dump
// found, keeping drains of real servers that are still there. have is the
// plan's own copy (written), which the model takes over, or the model
// itself (asDumped: the dump found it as it is), which stays as it is.
// It reports whether the model changed.
func (r *Reconciler) refreshModel(k ipvs.Key, have *ipvs.ServiceConfig) bool {
	st := r.svcs[k]
	if have == nil {
		r.dropService(k)
		return st != nil
	}
	if st != nil && have == &st.have {
		return false
	}
	if st == nil {
		st = &svcState{}
		r.svcs[k] = st
	}
	st.have = ipvs.ServiceConfig{Service: have.Service.Canonical(), Destinations: have.Destinations}
	st.shared = false
	r.drains.prune(k, func(dk ipvs.DestKey) bool { return st.find(dk) >= 0 })
	return true
}

// dropService forgets k: its model and its drains.
func (r *Reconciler) dropService(k ipvs.Key) {
	delete(r.svcs, k)
	r.drains.forgetService(k)
}

// forgetDest forgets one real server of k: its model and its drain.
func (r *Reconciler) forgetDest(k ipvs.Key, dk ipvs.DestKey) {
	if st := r.svcs[k]; st != nil {
		st.removeDest(dk)
	}
	r.drains.stop(k, dk)
}

func sortedKeys(m map[ipvs.Key]bool) []ipvs.Key {
	if len(m) == 0 {
		return nil
	}
	return slices.SortedFunc(maps.Keys(m), ipvs.Key.Compare)
}

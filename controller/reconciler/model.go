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
	// have models the kernel's service after our writes. Connection
	// counts in it are stale; the drain check reads them afresh.
	have ipvs.ServiceWithDests
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
}

// refreshModel replaces the model of one service with what a full dump
// found, keeping drains of real servers that are still there.
func (r *Reconciler) refreshModel(k ipvs.Key, have *ipvs.ServiceWithDests) {
	if have == nil {
		r.dropService(k)
		return
	}
	st := r.svcs[k]
	if st == nil {
		st = &svcState{}
		r.svcs[k] = st
	}
	st.have = ipvs.ServiceWithDests{Service: have.Service.Canonical(), Destinations: slices.Clone(have.Destinations)}
	r.drains.prune(k, func(dk ipvs.DestKey) bool { return st.find(dk) >= 0 })
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

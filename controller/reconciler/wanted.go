package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// wanted is the desired value of one virtual server as the reconciler
// holds it between syncs.
type wanted struct {
	// vs is normalized and valid; nil while errs says why the last desired
	// value is not. An invalid service is neither changed nor deleted, so
	// a typo in one service cannot take it down.
	vs   *desired.VirtualServer
	errs []error
	// gen is the Sync that last listed the key: it finds duplicates and
	// removals in one pass without building a set of the input.
	gen uint64
}

// replace makes d the whole desired state (Sync). It walks d once but
// normalizes, and so allocates, only what differs from the state held:
// an unchanged state costs comparisons and no allocation.
func (r *Reconciler) replace(d desired.State) {
	r.gen++
	for i := range d.Services {
		in := &d.Services[i]
		k := in.Key.Canonical()
		w := r.want[k]
		switch {
		case w != nil && w.gen == r.gen:
			r.duplicate(k, w, in)
		case w != nil && w.vs != nil && sameAsNormalized(in, w.vs):
			w.gen = r.gen
		default:
			r.set(k, in).gen = r.gen
		}
	}
	for k, w := range r.want {
		if w.gen != r.gen {
			r.remove(k)
		}
	}
	r.setAddresses(d.Addresses)
}

// update applies u to the desired state (Apply), looking only at what u
// names.
func (r *Reconciler) update(u desired.Update) {
	for _, k := range u.Delete {
		// Marked even when not desired: a service whose deletion failed
		// is then looked at again, which is what a caller deleting it
		// means.
		r.remove(k.Canonical())
	}
	var seen map[ipvs.Key]bool
	if len(u.Set) > 1 {
		seen = make(map[ipvs.Key]bool, len(u.Set))
	}
	for i := range u.Set {
		in := &u.Set[i]
		k := in.Key.Canonical()
		w := r.want[k]
		if seen[k] {
			r.duplicate(k, w, in)
			continue
		}
		if seen != nil {
			seen[k] = true
		}
		if w != nil && w.vs != nil && sameAsNormalized(in, w.vs) {
			continue
		}
		r.set(k, in)
	}
	if u.SetAddresses {
		r.setAddresses(u.Addresses)
	}
}

// set records in as the desired value of k, normalized and validated, and
// marks k for the next sync if that changes anything.
func (r *Reconciler) set(k ipvs.Key, in *desired.VirtualServer) *wanted {
	w := r.want[k]
	if w == nil {
		w = &wanted{}
		r.want[k] = w
	}
	n := in.Normalize()
	if err := n.ValidateNormalized(); err != nil {
		w.errs = nil
		r.markInvalid(k, w, err)
		return w
	}
	if w.errs != nil {
		w.errs = nil
		delete(r.invalid, k)
		r.changed(k)
	}
	if w.vs == nil || !desired.EqualNormalized(w.vs, &n) {
		w.vs = &n
		r.changed(k)
	}
	return w
}

// duplicate marks k, listed twice in one Sync or Update, invalid: which of
// the two values is meant is anyone's guess, so neither is applied.
func (r *Reconciler) duplicate(k ipvs.Key, w *wanted, in *desired.VirtualServer) {
	err := fmt.Errorf("virtual server %s (%s): listed twice", k, in.Owner)
	n := in.Normalize()
	if verr := n.ValidateNormalized(); verr != nil {
		err = verr
	}
	r.markInvalid(k, w, err)
}

// remove takes k out of the desired state.
func (r *Reconciler) remove(k ipvs.Key) {
	if r.want[k] != nil {
		delete(r.want, k)
		delete(r.invalid, k)
		r.publishDirty = true
	}
	r.markDirty(k)
}

// setAddresses replaces the desired VIP set, marking it for the next sync
// only if it differs.
func (r *Reconciler) setAddresses(list []netip.Addr) {
	if sameAddresses(list, r.addrs) {
		return
	}
	m := make(map[netip.Addr]bool, len(list))
	for _, a := range list {
		m[a.Unmap()] = true
	}
	if maps.Equal(m, r.addrs) {
		return
	}
	r.addrs = m
	r.addrsDirty = true
}

// sameAddresses reports, without allocating, whether a strictly sorted
// list (as Desired.ServiceAddresses returns) holds exactly set. Other
// lists may still be equal: the caller then compares sets.
func sameAddresses(list []netip.Addr, set map[netip.Addr]bool) bool {
	if len(list) != len(set) {
		return false
	}
	for i, a := range list {
		a = a.Unmap()
		if !set[a] || (i > 0 && list[i-1].Unmap().Compare(a) >= 0) {
			return false
		}
	}
	return true
}

// sameAsNormalized reports whether in normalizes to n, a normalized valid
// value, without normalizing (and so allocating). A list of real servers
// in another order than n's compares unequal; the caller then normalizes.
func sameAsNormalized(in, n *desired.VirtualServer) bool {
	if in.Owner != n.Owner || in.DrainTimeout != n.DrainTimeout || len(in.Destinations) != len(n.Destinations) ||
		in.Service.Canonical() != n.Service {
		return false
	}
	for i := range in.Destinations {
		if in.Destinations[i].Canonical() != n.Destinations[i] {
			return false
		}
	}
	return true
}

// invalidErrors reports every desired service held invalid, on every sync:
// the desired state stays wrong until a source fixes it, as it did when
// each Sync revalidated its whole input.
func (r *Reconciler) invalidErrors(res *Result) {
	if len(r.invalid) == 0 {
		// A map that once held many keys keeps its buckets, and ranging
		// over it costs them all: start afresh when it empties.
		r.invalid = nil
		return
	}
	for _, k := range slices.SortedFunc(maps.Keys(r.invalid), ipvs.Key.Compare) {
		res.Errors = append(res.Errors, r.want[k].errs...)
	}
}

// markInvalid holds k invalid, adding errs to why: its service is then
// kept in the kernel as it is.
func (r *Reconciler) markInvalid(k ipvs.Key, w *wanted, errs ...error) {
	if w.vs != nil {
		// It leaves the valid desired state: published without it, and
		// no longer a conflict to report.
		r.changed(k)
	}
	w.vs = nil
	w.errs = append(w.errs, errs...)
	if r.invalid == nil {
		r.invalid = map[ipvs.Key]bool{}
	}
	r.invalid[k] = true
}

// changed notes that the desired value of k changed.
func (r *Reconciler) changed(k ipvs.Key) {
	r.publishDirty = true
	r.markDirty(k)
}

// markDirty makes the next sync look at k.
func (r *Reconciler) markDirty(k ipvs.Key) {
	if r.dirty == nil {
		r.dirty = map[ipvs.Key]bool{}
	}
	r.dirty[k] = true
}

// publish writes the valid desired services for inspection tools when
// they changed since last published, at most once per PublishInterval. The
// file holds the whole state, so a write costs O(n); coalescing keeps a
// burst of one-service changes O(1) each. An unchanged state costs nothing.
func (r *Reconciler) publish(now time.Time, res *Result) {
	if r.publishWait(now) != 0 || !r.publishDirty || r.published.Path == "" {
		return
	}
	want := make(map[ipvs.Key]*desired.VirtualServer, len(r.want))
	for k, w := range r.want {
		if w.vs != nil {
			want[k] = w.vs
		}
	}
	r.lastPublish = now
	if err := r.published.Publish(want); err != nil {
		res.fail(err)
		return
	}
	r.publishDirty = false
}

// publishWait is how long until a pending publish may be written: zero when
// nothing is pending or it is due now.
func (r *Reconciler) publishWait(now time.Time) time.Duration {
	if !r.publishDirty || r.published.Path == "" {
		return 0
	}
	if wait := r.lastPublish.Add(r.cfg.PublishInterval).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

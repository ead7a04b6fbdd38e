package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

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

// wantedState is the desired state the reconciler holds between syncs, and
// which parts of it the next sync must look at. Its methods that change it
// report whether the valid desired services changed, which is what the
// published copy shows.
type wantedState struct {
	// byKey is the desired state; invalid indexes its invalid entries
	// (kept untouched, reported on every sync).
	byKey   map[ipvs.Key]*wanted
	invalid map[ipvs.Key]bool
	gen     uint64 // Syncs so far, for wanted.gen
	// dirty are the keys the next incremental sync looks at: desired
	// values changed since they were applied, and work that failed or was
	// not done. Every other key is as it was last applied.
	dirty map[ipvs.Key]bool
	// unpublished are the keys whose valid desired value may have changed
	// since it was last handed to the publisher (every key marked dirty;
	// nil when nothing is published, so that it does not grow).
	unpublished map[ipvs.Key]bool

	// addrs is the desired address set; addrsDirty makes the next sync
	// reconcile it: it changed, or the last attempt failed.
	addrs      map[netip.Addr]bool
	addrsDirty bool
}

// replace makes d the whole desired state (Sync). It walks d once but
// normalizes, and so allocates, only what differs from the state held:
// an unchanged state costs comparisons and no allocation.
func (s *wantedState) replace(d desired.State) (changed bool) {
	s.gen++
	for i := range d.Services {
		in := &d.Services[i]
		k := in.Key.Canonical()
		w := s.byKey[k]
		switch {
		case w != nil && w.gen == s.gen:
			changed = s.duplicate(k, w, in) || changed
		case w != nil && w.vs != nil && sameAsNormalized(in, w.vs):
			w.gen = s.gen
		default:
			var c bool
			w, c = s.set(k, in, false)
			w.gen = s.gen
			changed = c || changed
		}
	}
	for k, w := range s.byKey {
		if w.gen != s.gen {
			changed = s.remove(k) || changed
		}
	}
	s.setAddresses(d.Addresses)
	return changed
}

// update applies u to the desired state (Apply), looking only at what u
// names.
func (s *wantedState) update(u desired.Update) (changed bool) {
	for _, k := range u.Delete {
		// Marked even when not desired: a service whose deletion failed
		// is then looked at again, which is what a caller deleting it
		// means.
		changed = s.remove(k.Canonical()) || changed
	}
	var seen map[ipvs.Key]bool
	if len(u.Set) > 1 {
		seen = make(map[ipvs.Key]bool, len(u.Set))
	}
	for i := range u.Set {
		in := &u.Set[i]
		k := in.Key.Canonical()
		w := s.byKey[k]
		if seen[k] {
			changed = s.duplicate(k, w, in) || changed
			continue
		}
		if seen != nil {
			seen[k] = true
		}
		if w != nil && w.vs != nil && sameAsNormalized(in, w.vs) {
			continue
		}
		_, c := s.set(k, in, u.HandedOver)
		changed = c || changed
	}
	if u.SetAddresses {
		s.setAddresses(u.Addresses)
	}
	return changed
}

// set records in as the desired value of k, normalized and validated, and
// marks k for the next sync if that changes anything. keep: in's real
// servers were handed over (Update.HandedOver), and are kept as they are
// when they need no normalizing.
func (s *wantedState) set(k ipvs.Key, in *desired.VirtualServer, keep bool) (w *wanted, changed bool) {
	w = s.byKey[k]
	if w == nil {
		w = &wanted{}
		s.byKey[k] = w
	}
	var n desired.VirtualServer
	if keep {
		n = in.NormalizeKeep()
	} else {
		n = in.Normalize()
	}
	if err := n.ValidateNormalized(); err != nil {
		w.errs = nil
		return w, s.markInvalid(k, w, err)
	}
	if w.errs != nil {
		w.errs = nil
		delete(s.invalid, k)
		s.markDirty(k)
		changed = true
	}
	if w.vs == nil || !desired.EqualNormalized(w.vs, &n) {
		w.vs = &n
		s.markDirty(k)
		changed = true
	}
	return w, changed
}

// duplicate marks k, listed twice in one Sync or Update, invalid: which of
// the two values is meant is anyone's guess, so neither is applied.
func (s *wantedState) duplicate(k ipvs.Key, w *wanted, in *desired.VirtualServer) (changed bool) {
	err := fmt.Errorf("virtual server %s (%s): listed twice", k, in.Owner)
	n := in.Normalize()
	if verr := n.ValidateNormalized(); verr != nil {
		err = verr
	}
	return s.markInvalid(k, w, err)
}

// remove takes k out of the desired state.
func (s *wantedState) remove(k ipvs.Key) (changed bool) {
	if s.byKey[k] != nil {
		delete(s.byKey, k)
		delete(s.invalid, k)
		changed = true
	}
	s.markDirty(k)
	return changed
}

// setAddresses replaces the desired VIP set, marking it for the next sync
// only if it differs.
func (s *wantedState) setAddresses(list []netip.Addr) {
	if sameAddresses(list, s.addrs) {
		return
	}
	m := make(map[netip.Addr]bool, len(list))
	for _, a := range list {
		m[a.Unmap()] = true
	}
	if maps.Equal(m, s.addrs) {
		return
	}
	s.addrs = m
	s.addrsDirty = true
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

// invalidErrors returns why each desired service held invalid is, on every
// sync: the desired state stays wrong until a source fixes it, as it did
// when each Sync revalidated its whole input.
func (s *wantedState) invalidErrors() []error {
	if len(s.invalid) == 0 {
		// A map that once held many keys keeps its buckets, and ranging
		// over it costs them all: start afresh when it empties.
		s.invalid = nil
		return nil
	}
	var errs []error
	for _, k := range slices.SortedFunc(maps.Keys(s.invalid), ipvs.Key.Compare) {
		errs = append(errs, s.byKey[k].errs...)
	}
	return errs
}

// markInvalid holds k invalid, adding errs to why: its service is then
// kept in the kernel as it is. It reports whether k leaves the valid
// desired services.
func (s *wantedState) markInvalid(k ipvs.Key, w *wanted, errs ...error) (changed bool) {
	if w.vs != nil {
		// It leaves the valid desired state: published without it, and
		// no longer a conflict to report.
		s.markDirty(k)
		changed = true
	}
	w.vs = nil
	w.errs = append(w.errs, errs...)
	if s.invalid == nil {
		s.invalid = map[ipvs.Key]bool{}
	}
	s.invalid[k] = true
	return changed
}

// markDirty makes the next sync look at k.
func (s *wantedState) markDirty(k ipvs.Key) {
	if s.dirty == nil {
		s.dirty = map[ipvs.Key]bool{}
	}
	s.dirty[k] = true
	if s.unpublished != nil {
		s.unpublished[k] = true
	}
}

// clearDirty empties the set of keys to look at, once a sync has.
func (s *wantedState) clearDirty() {
	// A set that grew large is dropped rather than cleared, as a cleared
	// map keeps the buckets of its largest size for every later range.
	if len(s.dirty) > 64 {
		s.dirty = nil
	} else {
		clear(s.dirty)
	}
}

// addrsDone records the outcome of reconciling the address set as it is
// now: failed keeps it for the next sync.
func (s *wantedState) addrsDone(failed bool) { s.addrsDirty = failed }

// validCount is the number of valid desired services.
func (s *wantedState) validCount() int { return len(s.byKey) - len(s.invalid) }

// takeUnpublished returns what changed of the valid desired services
// since the last call: each key's value now, nil for one no longer desired
// or invalid.
func (s *wantedState) takeUnpublished() map[ipvs.Key]*desired.VirtualServer {
	out := make(map[ipvs.Key]*desired.VirtualServer, len(s.unpublished))
	for k := range s.unpublished {
		var vs *desired.VirtualServer
		if w := s.byKey[k]; w != nil {
			vs = w.vs
		}
		out[k] = vs
	}
	s.unpublished = map[ipvs.Key]bool{} // not cleared: see clearDirty
	return out
}

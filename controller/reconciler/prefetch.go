package reconciler

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// A full resync compares the kernel with the model. Its dump of 100,000
// real servers took four minutes under emulation, and a change that came
// meanwhile waited for it: the p99 of event-to-kernel latency at 10,000
// Services was a full resync's length. With Deps.Dumper the dump is taken
// ahead, on a netlink socket of its own, while partial syncs go on; the
// full resync then uses it, after reading again every virtual server
// written since it began (its dump may predate the write).
//
// The dump is held until the sweep has compared its last slice. At
// 10,000 Services x 10 that was some 11 MB of live heap, and the peak of
// the daemon's resident set came during the sweep (141.7 MiB against
// 133.7 MiB after the cold start in a lab profile), so the dump taken
// ahead keeps the real servers only of the services unlike the model as
// each is dumped (matched): for the others the model is what the kernel
// holds, and the sweep uses it. A virtual server written after it was
// compared is read again in any case.

// Dumper lists the kernel's whole IPVS table, one virtual server at a
// time: *s, its real servers included, is only valid during the call. It
// must not share a socket (or a lock) with Deps.Kernel, or the dump would
// hold up the writes it is taken beside: a second ipvs.Handle serves.
type Dumper interface {
	DumpEach(each func(s *ipvs.ServiceWithDests) error) error
}

// prefetch is a dump taken ahead of a full resync.
type prefetch struct {
	done chan struct{} // closed when actual and err are set
	// actual is the dump by key, indexed in the background too: at
	// 10,000 services that is some 10 ms natively, 0.1 s or more under
	// emulation, that changes need not wait for.
	actual *tableDump
	err    error
	// written are the virtual servers written since the dump began.
	written map[ipvs.Key]bool
	// addrs is the host's addresses, listed after the dump (nil: not
	// listed, or the listing failed; the resync lists them). Listing
	// 1,000 VIPs was 8 ms natively in the full resync's first slice, a
	// sync that changes wait for, and half a second under emulation.
	addrs *AddressListing
	// addrsWritten: a VIP was bound or unbound since the listing began,
	// so it may be stale.
	addrsWritten bool
}

// PrefetchDump makes sure the next full resync's dump is being taken in
// the background and reports whether it is done, so that the full resync
// need not wait for it. ready is called, from another goroutine, when a
// dump this call started is done. Without a Dumper (or a kernel that reads
// one virtual server) it reports true at once: the full resync dumps.
func (r *Reconciler) PrefetchDump(ready func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.deps.Kernel.(serviceReader); !ok || r.deps.Dumper == nil {
		return true
	}
	if pf := r.pf; pf != nil {
		select {
		case <-pf.done:
			return true
		default:
			return false
		}
	}
	pf := &prefetch{done: make(chan struct{}), written: map[ipvs.Key]bool{}}
	r.pf = pf
	hint := len(r.svcs)
	go func() {
		pf.actual, pf.err = r.dumpAhead(hint)
		if r.deps.Addresses != nil && pf.err == nil {
			// An error here is only a listing to take again in the resync.
			if l, err := r.deps.Addresses.ListAddresses(); err == nil {
				pf.addrs = &l
			}
		}
		close(pf.done)
		ready()
	}()
	return false
}

// wrote records that k is written, for a dump taken ahead and for the
// sweep under way: either's dump may now be stale for k.
func (r *Reconciler) wrote(k ipvs.Key) {
	if r.pf != nil {
		r.pf.written[k] = true
	}
	if r.sweep != nil {
		r.sweep.written[k] = true
	}
}

// dumpAhead takes the dump for PrefetchDump, on its goroutine, keeping
// the real servers of only those virtual servers unlike the model.
func (r *Reconciler) dumpAhead(hint int) (*tableDump, error) {
	dump := make([]ipvs.ServiceWithDests, 0, hint)
	matched := map[ipvs.Key]bool{}
	err := r.deps.Dumper.DumpEach(func(s *ipvs.ServiceWithDests) error {
		kept := *s
		if r.matchesModel(s) {
			kept.Destinations = nil
			matched[s.Key] = true
		} else {
			kept.Destinations = slices.Clone(s.Destinations)
		}
		dump = append(dump, kept)
		return nil
	})
	t := indexDump(dump)
	t.matched = matched
	return t, err
}

// matchesModel reports whether the dumped s is what the model holds, so
// that the full resync may use the model for it: the model changes only
// with a write, which marks the key written and has it read again. A
// sweep under way refreshes models from an older dump, and drains read
// the dump's connection counts, so neither is matched.
func (r *Reconciler) matchesModel(s *ipvs.ServiceWithDests) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.svcs[s.Key]
	return r.sweep == nil && st != nil && !r.drains.draining(s.Key) && modelIs(&st.have, s)
}

// wroteAddresses records that n VIPs are being bound or unbound: the
// listing taken ahead may be stale. Binding runs beside the sync's IPVS
// writes but is started from it, under the lock, as is this.
func (r *Reconciler) wroteAddresses(n int) {
	if n > 0 && r.pf != nil {
		r.pf.addrsWritten = true
	}
}

// takePrefetched returns the dump taken ahead, if one is done, with the
// virtual servers written since it began read again (ok false: there is
// none; the caller dumps). One still being taken is dropped: the caller's
// own dump is newer.
func (r *Reconciler) takePrefetched(res *Result) (actual *tableDump, ok bool, err error) {
	pf := r.pf
	if pf == nil {
		return nil, false, nil
	}
	r.pf = nil
	select {
	case <-pf.done:
	default:
		return nil, false, nil
	}
	if pf.err != nil {
		return nil, true, pf.err
	}
	g := r.deps.Kernel.(serviceReader) // PrefetchDump checked
	for k := range pf.actual.matched {
		if r.svcs[k] == nil {
			pf.written[k] = true // no model to use: released since
		}
	}
	var errs []error
	for k := range pf.written {
		delete(pf.actual.matched, k)
		res.Dumps++
		s, err := g.GetService(k)
		switch {
		case errors.Is(err, unix.ESRCH):
			delete(pf.actual.byKey, k)
		case err != nil:
			delete(pf.actual.byKey, k)
			errs = append(errs, fmt.Errorf("reading virtual server %s again: %w", k, err))
		default:
			if pf.actual.byKey[k] == nil {
				pf.actual.keys = append(pf.actual.keys, k)
			}
			pf.actual.byKey[k] = &s
		}
	}
	if !pf.addrsWritten {
		pf.actual.addrs = pf.addrs
	}
	return pf.actual, true, errors.Join(errs...)
}

// tableDump is a dump of the IPVS table by key, and its keys in the order
// the kernel listed them (a sweep's order: deterministic, and no sort).
type tableDump struct {
	byKey map[ipvs.Key]*ipvs.ServiceWithDests
	keys  []ipvs.Key
	// addrs is the host's addresses listed with a dump taken ahead (nil:
	// none, list them).
	addrs *AddressListing
	// matched are the virtual servers a dump taken ahead found as the
	// model holds them; their entries have no real servers, and the model
	// stands for them.
	matched map[ipvs.Key]bool
}

// dumped is k as the dump holds it, real servers included (ok false for
// a matched entry, whose real servers the dump did not keep).
func (t *tableDump) dumped(k ipvs.Key) (a *ipvs.ServiceWithDests, ok bool) {
	if t.matched[k] {
		return nil, false
	}
	return t.byKey[k], true
}

// addresses is the listing taken with the dump, if any (none without a
// dump).
func (t *tableDump) addresses() *AddressListing {
	if t == nil {
		return nil
	}
	return t.addrs
}

func indexDump(dump []ipvs.ServiceWithDests) *tableDump {
	t := &tableDump{byKey: make(map[ipvs.Key]*ipvs.ServiceWithDests, len(dump)), keys: make([]ipvs.Key, len(dump))}
	for i := range dump {
		t.byKey[dump[i].Key] = &dump[i]
		t.keys[i] = dump[i].Key
	}
	return t
}

package reconciler

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// addrPlan is the address work of one sync.
type addrPlan struct {
	skip bool
	want map[netip.Addr]bool
	add  []netip.Addr // to bind; claimed in the record first
	del  []netip.Addr // ours and no longer desired
	// unclaim: recorded as ours but no longer on our link (removed or
	// moved by hand); dropped from the record without a write.
	unclaim []netip.Addr
	failed  bool
}

// planAddresses decides which VIPs to bind and unbind. It reads the links
// only when the desired set changed, the last attempt failed, or on a full
// resync (actual not nil); otherwise it costs nothing, however many VIPs
// there are. A full resync on a dump taken ahead uses the listing taken
// with it, if no VIP was bound or unbound since.
//
// Ownership: an address is ours only if we bound it. A desired address
// already present on any link (ours included) that we did not bind is left
// alone and never deleted: someone else put it there.
func (r *Reconciler) planAddresses(actual *tableDump, res *Result) addrPlan {
	p := addrPlan{want: r.want.addrs}
	if r.deps.Addresses == nil {
		if len(p.want) > 0 {
			res.fail(errors.New("addresses are desired but no address binder is configured"))
		}
		p.skip = true
		return p
	}
	if actual == nil && !r.want.addrsDirty {
		p.skip = true
		return p
	}
	l := actual.addresses()
	var err error
	if l == nil {
		var got AddressListing
		got, err = r.deps.Addresses.ListAddresses()
		l = &got
	}
	if err != nil {
		res.fail(fmt.Errorf("listing addresses: %w", err))
		r.want.addrsDone(true)
		p.skip = true
		return p
	}
	p.classify(r.ownership.owned.Addresses, l, r.adoptable.Addresses)
	return p
}

// classify sorts the desired addresses; adopt are those on another
// program's link that ipvsd is taking over (Adoptable.Addresses), bound to
// our link too rather than left as someone else's.
func (p *addrPlan) classify(mine map[netip.Addr]bool, l *AddressListing, adopt map[netip.Addr]bool) {
	onLink := l.OnLink
	for a := range p.want {
		switch {
		case onLink[a]:
			// Bound already: by us (recorded) or by someone else (then it
			// stays theirs).
		case l.Elsewhere[a] && !adopt[a]:
			// On another interface: binding it again would only create a
			// second route to ourselves. Not ours, even if it once was.
			if mine[a] {
				p.unclaim = append(p.unclaim, a)
			}
		default:
			p.add = append(p.add, a)
		}
	}
	for a := range mine {
		if p.want[a] {
			continue
		}
		if onLink[a] {
			p.del = append(p.del, a)
		} else {
			p.unclaim = append(p.unclaim, a)
		}
	}
	// The maps are walked as they are and only what is found is sorted:
	// a full resync looks at every VIP, and sorting all 10,000 of them
	// for the few (usually none) to change was garbage every time.
	slices.SortFunc(p.add, netip.Addr.Compare)
	slices.SortFunc(p.del, netip.Addr.Compare)
	slices.SortFunc(p.unclaim, netip.Addr.Compare)
}

// bindAlongside is the number of VIPs from which a sync binds them on a
// goroutine beside its IPVS writes instead of before them. A cold start
// binds every VIP, and the kernel serves the two on different locks
// (RTNL, the IPVS mutex): at 10,000 Services the 1,000 VIPs took 11.8 s
// one request at a time and 1.6 s batched in the lab, beside writes that
// last longer. A few VIPs are still bound first, so that a new virtual
// server finds its address there.
const bindAlongside = 64

// logEachVIP is the number of VIPs a sync logs one by one at Info; a sync
// that binds or unbinds more logs their number (and each at Debug): ten
// thousand lines of a cold start were 3 % of its CPU.
const logEachVIP = 16

// vipLevel is the level of each VIP's line in a sync that binds or
// unbinds n of them.
func vipLevel(n int) zapcore.Level {
	if n > logEachVIP {
		return zap.DebugLevel
	}
	return zap.InfoLevel
}

// bindAddresses binds p.add, or starts to on a goroutine: then it
// returns the channel bindWait completes it from (nil: done). Nothing is
// captured, so a sync that binds nothing allocates nothing.
func (r *Reconciler) bindAddresses(p *addrPlan, res *Result) chan []error {
	r.wroteAddresses(len(p.add))
	if len(p.add) < bindAlongside {
		r.recordBinds(p, r.bind(p.add), res)
		return nil
	}
	done := make(chan []error, 1)
	go func(addrs []netip.Addr) { done <- r.bind(addrs) }(p.add)
	return done
}

// bindWait waits for the binding bindAddresses started, if it did, and
// records its outcome; call it before unbindAddresses.
func (r *Reconciler) bindWait(p *addrPlan, done chan []error, res *Result) {
	if done != nil {
		r.recordBinds(p, <-done, res)
	}
}

// bind adds each address, in batches, returning each one's error (nil:
// bound). It touches nothing of the reconciler but the address binder,
// so it may run beside the IPVS writes.
func (r *Reconciler) bind(addrs []netip.Addr) []error {
	if len(addrs) == 0 {
		return nil
	}
	return r.deps.Addresses.AddAddresses(addrs)
}

// recordBinds records the outcome of binding p.add.
func (r *Reconciler) recordBinds(p *addrPlan, errs []error, res *Result) {
	level := vipLevel(len(p.add))
	bound := 0
	for i, a := range p.add {
		if err := errs[i]; err != nil {
			// Not bound by us, so not ours (EEXIST: someone raced us).
			r.ownership.disownAddr(a)
			res.fail(fmt.Errorf("adding address %s: %w", a, err))
			p.failed = true
			continue
		}
		bound++
		res.Addresses.Added++
		r.log.Log(level, "bound VIP", zap.Stringer("address", a))
	}
	if level == zap.DebugLevel {
		r.log.Info("bound VIPs", zap.Int("count", bound))
	}
}

// unbindAddresses runs after the services were reconciled, so a VIP goes
// only once the virtual servers on it are gone.
func (r *Reconciler) unbindAddresses(p *addrPlan, res *Result) {
	var errs []error
	r.wroteAddresses(len(p.del))
	if len(p.del) > 0 {
		errs = r.deps.Addresses.DelAddresses(p.del)
	}
	for i, a := range p.del {
		err := errs[i]
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			res.fail(fmt.Errorf("deleting address %s: %w", a, err))
			p.failed = true
			continue
		}
		r.ownership.disownAddr(a)
		if err == nil {
			res.Addresses.Deleted++
			r.log.Log(vipLevel(len(p.del)), "unbound VIP", zap.Stringer("address", a))
		}
	}
	for _, a := range p.unclaim {
		r.ownership.disownAddr(a)
	}
	r.finishAddresses(p)
}

func (r *Reconciler) finishAddresses(p *addrPlan) {
	if p.skip {
		return
	}
	// The plan was made from the desired set as it is now (a sync holds
	// the lock from update to here), so success means that set is reached.
	r.want.addrsDone(p.failed)
}

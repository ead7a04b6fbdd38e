package reconciler

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// ownership is the record of the virtual servers and addresses ipvsd
// created, kept in memory and saved to its file under /run so that a
// restarted ipvsd still knows what is its own.
type ownership struct {
	store runstate.OwnershipStore
	owned runstate.Record // as last saved, unless unsaved
	// unsaved: owned changed since it was last saved. Tracked rather than
	// found by comparing records, which would cost the whole record on
	// every sync.
	unsaved bool
	// exclude are Config.ExcludeCIDRs: what ipvsd created there is never
	// cleaned up, only let go.
	exclude []netip.Prefix
}

// load reads the record from its file.
func (o *ownership) load() error {
	owned, err := o.store.Load()
	if err != nil {
		return err
	}
	o.owned = owned
	return nil
}

// owns reports whether k is recorded as ours.
func (o *ownership) owns(k ipvs.Key) bool {
	_, ok := o.owned.Services[k]
	return ok
}

// own records k as ours, as vs (normalized) says: its owner, and the
// parameters just written, by which a later sync, or a restarted ipvsd,
// tells whether someone else has changed the service since.
func (o *ownership) own(k ipvs.Key, vs *desired.VirtualServer) {
	was, ok := o.owned.Services[k]
	c, hasC := o.owned.Config[k]
	if ok && was == vs.Owner && hasC && c == vs.Service {
		return
	}
	keep := runstate.CheckConfig(vs.Service) == nil
	if ok && was == vs.Owner && !hasC && !keep {
		return
	}
	o.owned.Services[k] = vs.Owner
	o.recordConfig(o.owned, k, vs.Service, keep)
	o.unsaved = true
}

// recordConfig sets or clears k's parameters in rec. Parameters the
// record could not load again (a scheduler name no kernel has) are not
// written: a record that refuses to load stops the daemon.
func (o *ownership) recordConfig(rec runstate.Record, k ipvs.Key, s ipvs.Service, keep bool) {
	if keep {
		rec.Config[k] = s
	} else {
		delete(rec.Config, k)
	}
}

func (o *ownership) disown(k ipvs.Key) {
	if _, ok := o.owned.Services[k]; ok {
		delete(o.owned.Services, k)
		delete(o.owned.Config, k)
		o.unsaved = true
	}
}

// asWritten reports whether have, the kernel's service under a key the
// record names, is as ipvsd last wrote it, and if not, why.
func (o *ownership) asWritten(k ipvs.Key, have *ipvs.ServiceWithDests) (bool, string) {
	c, ok := o.owned.Config[k]
	if !ok {
		return false, "recorded without its parameters (by an older ipvsd, or by hand)"
	}
	if got := have.Service.Canonical(); got != c {
		return false, fmt.Sprintf("changed by someone else: %s, ipvsd wrote %s", describeParams(got), describeParams(c))
	}
	return true, ""
}

// describeParams names what ipvsd writes of a service, for a log.
func describeParams(s ipvs.Service) string {
	return fmt.Sprintf("scheduler %s flags %v timeout %d netmask /%d pe %q", s.Scheduler, s.Flags.Names(), s.Timeout, s.Netmask, s.PEName)
}

// keepsOwnership checks, before a virtual server the record names but no
// longer desired is deleted, that the kernel's service is still as ipvsd
// wrote it. One that is not (its scheduler changed with ipvsadm -E, or a
// record entry that says nothing of it) carries no sign of being ours:
// deleting it could take down another program's service. It is left as
// it is, logged and no longer recorded, and so foreign from now on; so is
// its VIP, which it needs to keep working (planAddresses runs after this,
// and never unbinds an address the record does not name).
func (r *Reconciler) keepsOwnership(k ipvs.Key, have *ipvs.ServiceWithDests) bool {
	if r.excluded(k) {
		r.release(k, "its address is in ipvs.excludeCIDRs")
		return false
	}
	ok, why := r.ownership.asWritten(k, have)
	if ok {
		return true
	}
	r.release(k, why)
	return false
}

// excluded says whether k's address is in Config.ExcludeCIDRs, which
// ipvsd never cleans up (kube-proxy's ipvs.excludeCIDRs).
func (r *Reconciler) excluded(k ipvs.Key) bool {
	return !k.IsFWMark() && slices.ContainsFunc(r.ownership.exclude, func(p netip.Prefix) bool { return p.Contains(k.Address) })
}

// release leaves a recorded virtual server as it is in the kernel instead
// of deleting it, and stops recording it (and its VIP): it is foreign from
// now on.
func (r *Reconciler) release(k ipvs.Key, why string) {
	r.log.Warn("leaving a recorded virtual server as it is, foreign from now on",
		zap.Stringer("service", k), zap.String("owner", r.ownership.owned.Services[k]), zap.String("why", why))
	r.ownership.disown(k)
	r.dropService(k)
	if !k.IsFWMark() && r.ownership.owned.Addresses[k.Address] {
		r.log.Warn("leaving its VIP bound, and no longer recording it", zap.Stringer("address", k.Address))
		r.ownership.disownAddr(k.Address)
	}
}

// serviceReader reads one virtual server. ipvs.Handle and the fake offer
// it beside ipvs.Kernel; a kernel without it is trusted to be as the model
// says.
type serviceReader interface {
	GetService(ipvs.Key) (ipvs.ServiceWithDests, error)
}

// readBeforeDelete reads k before an incremental sync deletes it (one
// read of that service, as a drain check makes), so that a service
// changed by hand since the last full resync is not deleted on the
// model's word. It returns what to diff the deletion against (nil: the
// service is gone already) and whether to plan it at all; a failed read
// is reported and retried on the next sync.
func (r *Reconciler) readBeforeDelete(k ipvs.Key, st *svcState, res *Result) (have *ipvs.ServiceConfig, plan bool) {
	if r.excluded(k) {
		r.release(k, "its address is in ipvs.excludeCIDRs")
		return nil, false
	}
	g, ok := r.deps.Kernel.(serviceReader)
	if !ok {
		return &ipvs.ServiceConfig{Service: st.have.Service, Destinations: slices.Clone(st.have.Destinations)}, true
	}
	res.Dumps++
	got, err := g.GetService(k)
	if errors.Is(err, unix.ESRCH) {
		return nil, true
	}
	if err != nil {
		res.fail(fmt.Errorf("reading virtual server %s before deleting it: %w", k, err))
		r.want.markDirty(k)
		return nil, false
	}
	if !r.keepsOwnership(k, &got) {
		return nil, false
	}
	return written(&got), true
}

// dropUnrecordable removes plans that would create a virtual server the
// ownership record cannot name (an unspecified address): created, it
// would make the record one that a restarted ipvsd refuses to load. Each
// is reported, and looked at again on the next sync.
func (r *Reconciler) dropUnrecordable(plans []plan, res *Result) []plan {
	return slices.DeleteFunc(plans, func(p plan) bool {
		if !p.creates() || p.wasOwned {
			return false
		}
		err := runstate.CheckKey(p.key)
		if err != nil {
			res.fail(fmt.Errorf("virtual server %s (%s): not created, the ownership record cannot name it: %w", p.key, p.want.Owner, err))
			r.want.markDirty(p.key)
		}
		return err != nil
	})
}

func (o *ownership) disownAddr(a netip.Addr) {
	if o.owned.Addresses[a] {
		delete(o.owned.Addresses, a)
		o.unsaved = true
	}
}

// claims returns the record with the services and addresses a sync is
// about to create, and whether that adds anything.
func (o *ownership) claims(plans []plan, addrs []netip.Addr) (runstate.Record, bool) {
	var claimed runstate.Record
	grow := func() {
		if claimed.Services == nil {
			claimed = o.owned.Clone()
		}
	}
	for _, p := range plans {
		if !p.creates() {
			continue
		}
		// An owned service deleted by hand is created again, perhaps with
		// new parameters: those are recorded first too.
		if c, ok := o.owned.Config[p.key]; !o.owns(p.key) || !ok || c != p.want.Service {
			grow()
			claimed.Services[p.key] = p.want.Owner
			o.recordConfig(claimed, p.key, p.want.Service, runstate.CheckConfig(p.want.Service) == nil)
		}
	}
	for _, a := range addrs {
		if !o.owned.Addresses[a] {
			grow()
			claimed.Addresses[a] = true
		}
	}
	return claimed, claimed.Services != nil
}

// saveClaims saves claimed, a record from claims, and makes it the record.
// On error the record stays as it was: what it would have claimed must not
// be created.
func (o *ownership) saveClaims(claimed runstate.Record) error {
	if err := o.store.Save(claimed); err != nil {
		return err
	}
	o.owned = claimed
	o.unsaved = false
	return nil
}

// save writes the record if it changed since it was last saved.
func (o *ownership) save() error {
	if !o.unsaved {
		return nil
	}
	if err := o.store.Save(o.owned); err != nil {
		return err
	}
	o.unsaved = false
	return nil
}

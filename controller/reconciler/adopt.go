package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Adoptable names virtual servers and addresses of another program that
// ipvsd may take over: kube-proxy's, on the operator's explicit
// `ipvsd run --take-over-kube-proxy` (controller/kubeproxy finds them
// from kube-proxy's own bookkeeping). Anything not named stays foreign.
type Adoptable struct {
	// Services: a desired one found in the kernel is adopted in place,
	// recorded as ours and then changed only by the difference (never
	// deleted and added again, so its connections live on).
	Services map[ipvs.Key]bool
	// Addresses are on the other program's link (kube-ipvs0): a desired
	// one is bound to ipvsd's link too, and recorded as ours, instead of
	// being taken for someone else's address; the other link can then go
	// without a moment in which the address is not local.
	Addresses map[netip.Addr]bool
}

// Adopt makes a the set the next syncs may take over, replacing the last
// one (an empty Adoptable ends the take-over), and makes the next sync a
// full one: adoption needs the kernel's view of each service.
func (r *Reconciler) Adopt(a Adoptable) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adoptable = Adoptable{Services: maps.Clone(a.Services), Addresses: maps.Clone(a.Addresses)}
	r.want.addrsDirty = true
	r.resync.request()
}

// adopt takes over desired virtual server k, which the kernel holds as
// have and the record does not name, if it is adoptable. It is recorded
// with the parameters the kernel has, so that the diff that follows is an
// in-place update; the record is saved before that diff is written
// (saveAdopted), as for what ipvsd creates.
func (r *Reconciler) adopt(k ipvs.Key, vs *desired.VirtualServer, have *ipvs.ServiceWithDests, res *Result) bool {
	if !r.adoptable.Services[k] {
		return false
	}
	c := have.Service.Canonical()
	r.ownership.owned.Services[k] = vs.Owner
	r.ownership.recordConfig(r.ownership.owned, k, c, runstate.CheckConfig(c) == nil)
	r.ownership.unsaved = true
	delete(r.adoptable.Services, k)
	r.justAdopted = append(r.justAdopted, k)
	res.Adopted++
	r.log.Info("adopting a virtual server in place", zap.Stringer("service", k), zap.String("owner", vs.Owner),
		zap.String("scheduler", have.Service.Scheduler), zap.Int("realServers", len(have.Destinations)))
	return true
}

// saveAdopted saves the record when this sync adopted services, before
// any of them is written: a restarted ipvsd must find them ours. If it
// cannot be saved, the adopted services are not touched this sync (they
// stay as the other program left them, and working) and are tried again.
func (r *Reconciler) saveAdopted(plans []plan, res *Result) []plan {
	adopted := r.justAdopted
	r.justAdopted = nil
	if len(adopted) == 0 {
		return plans
	}
	err := r.ownership.save()
	if err == nil {
		return plans
	}
	res.fail(fmt.Errorf("recording the adopted virtual servers: %w", err))
	r.resync.request()
	for _, k := range adopted {
		r.ownership.disown(k)
		r.adoptable.Services[k] = true
		r.conflicts[k] = true
	}
	return slices.DeleteFunc(plans, func(p plan) bool { return slices.Contains(adopted, p.key) })
}

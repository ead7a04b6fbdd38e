package reconciler

import (
	"net/netip"

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

// own records k as ours, under owner.
func (o *ownership) own(k ipvs.Key, owner string) {
	if was, ok := o.owned.Services[k]; !ok || was != owner {
		o.owned.Services[k] = owner
		o.unsaved = true
	}
}

func (o *ownership) disown(k ipvs.Key) {
	if _, ok := o.owned.Services[k]; ok {
		delete(o.owned.Services, k)
		o.unsaved = true
	}
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
		if p.creates() && !o.owns(p.key) {
			grow()
			claimed.Services[p.key] = p.want.Owner
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

package reconciler_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
)

func addrsDesired(as ...string) desired.State {
	var d desired.State
	for _, a := range as {
		d.Addresses = append(d.Addresses, addr(a))
	}
	return d
}

func TestAddressOwnership(t *testing.T) {
	e := newEnv(t)
	e.addrs.AddOther(addr("192.0.2.2")) // on eth0: not bound again
	e.addrs.AddDummy(addr("192.0.2.3")) // on our link, not by us
	e.sync(addrsDesired("192.0.2.1", "192.0.2.2", "192.0.2.3"))
	e.wantState(`
		dummy 192.0.2.1
		dummy 192.0.2.3
		other 192.0.2.2
	`)
	if got := e.r.Owned().Addresses; len(got) != 1 || !got[addr("192.0.2.1")] {
		t.Errorf("owned addresses %v", got)
	}
	// Unchanged set: the links are not even read.
	if res := e.sync(addrsDesired("192.0.2.1", "192.0.2.2", "192.0.2.3")); res.Writes() != 0 {
		t.Errorf("%s", &res)
	}
	// Removing them all deletes only ours.
	e.sync(desired.State{})
	e.wantState(`
		dummy 192.0.2.3
		other 192.0.2.2
	`)
}

func TestAddressDriftAndMoves(t *testing.T) {
	e := newEnv(t)
	e.sync(addrsDesired("192.0.2.1", "192.0.2.4"))
	// Removed by hand: restored on full resync.
	e.addrs.RemoveDummy(addr("192.0.2.1"))
	// Moved by hand to another link: no longer ours, not bound twice.
	e.addrs.RemoveDummy(addr("192.0.2.4"))
	e.addrs.AddOther(addr("192.0.2.4"))
	e.advance(time.Minute)
	res := e.sync(addrsDesired("192.0.2.1", "192.0.2.4"))
	if res.Addresses.Added != 1 {
		t.Errorf("%s", &res)
	}
	e.wantState(`
		dummy 192.0.2.1
		other 192.0.2.4
	`)
	if e.r.Owned().Addresses[addr("192.0.2.4")] {
		t.Error("moved address still recorded as ours")
	}
	e.sync(desired.State{})
	e.wantState(`
		other 192.0.2.4
	`)
}

func TestAddressesUnmapped(t *testing.T) {
	e := newEnv(t)
	e.sync(desired.State{Addresses: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.9")}})
	e.wantState(`
		dummy 192.0.2.9
	`)
}

// TestManyAddressesBoundAlongside: a sync that binds many VIPs (a cold
// start) binds them beside its IPVS writes and records each outcome as a
// sync binding a few does: all bound and owned, and one that fails
// reported, not owned, and bound by the next sync.
func TestManyAddressesBoundAlongside(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(200, 2)
	bad := d.Addresses[150]
	failed := false
	e.addrs.Fail = func(op string, a netip.Addr) error {
		if op == "add" && a == bad && !failed {
			failed = true
			return unix.ENOMEM
		}
		return nil
	}
	res, err := e.r.Sync(t.Context(), d)
	if err == nil || !strings.Contains(err.Error(), "adding address "+bad.String()) {
		t.Errorf("sync error %v, want one naming %s", err, bad)
	}
	if res.Addresses.Added != 199 || res.Services.Added != 200 || res.Destinations.Added != 400 {
		t.Errorf("first sync: %s", &res)
	}
	if owned := e.r.Owned().Addresses; len(owned) != 199 || owned[bad] {
		t.Errorf("%d addresses owned (the failed one: %t), want 199 without it", len(owned), owned[bad])
	}
	res = e.sync(d)
	if res.Addresses.Added != 1 || len(e.r.Owned().Addresses) != 200 {
		t.Errorf("second sync: %s; %d owned, want the one left bound and 200 owned", &res, len(e.r.Owned().Addresses))
	}
}

// TestAddressesInOneBatch: a sync hands the binder all its VIPs in one
// call each way, and each address's failure stays its own: the others of
// the batch are bound (or unbound) and owned as usual.
func TestAddressesInOneBatch(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(200, 1)
	res := e.sync(d)
	if res.Addresses.Added != len(d.Addresses) {
		t.Errorf("first sync: %s", &res)
	}
	if calls := e.addrs.Calls(); calls != 1 {
		t.Errorf("binding %d VIPs took %d calls, want 1", len(d.Addresses), calls)
	}
	stuck := d.Addresses[3]
	e.addrs.Fail = func(op string, a netip.Addr) error {
		if op == "del" && a == stuck {
			return unix.EBUSY
		}
		return nil
	}
	res, err := e.r.Sync(t.Context(), desired.State{})
	if err == nil || !strings.Contains(err.Error(), "deleting address "+stuck.String()) {
		t.Errorf("sync error %v, want one naming %s", err, stuck)
	}
	if res.Addresses.Deleted != len(d.Addresses)-1 {
		t.Errorf("second sync: %s, want all VIPs but %s unbound", &res, stuck)
	}
	if calls := e.addrs.Calls(); calls != 2 {
		t.Errorf("unbinding took %d calls, want 1", calls-1)
	}
	if owned := e.r.Owned().Addresses; len(owned) != 1 || !owned[stuck] {
		t.Errorf("owned after unbinding %v, want only %s", owned, stuck)
	}
}

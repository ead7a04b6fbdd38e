package reconciler_test

import (
	"net/netip"
	"testing"
	"time"

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

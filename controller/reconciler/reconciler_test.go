package reconciler_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
)

func TestSyncReachesDesiredThenIsIdle(t *testing.T) {
	e := newEnv(t)
	res := e.sync(webDesired())
	if !res.Full || res.Services.Added != 3 || res.Destinations.Added != 4 || res.Addresses.Added != 2 {
		t.Errorf("first sync: %s", &res)
	}
	e.wantState(webState)
	res, writes, dumps := e.syncCounting(webDesired())
	if writes != 0 || dumps != 0 || res.Writes() != 0 || res.Full {
		t.Errorf("repeated sync: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	// A full resync of an unchanged table writes nothing either.
	e.advance(time.Minute)
	res, writes, dumps = e.syncCounting(webDesired())
	if writes != 0 || dumps != 1 || !res.Full {
		t.Errorf("full resync: %d writes, %d dumps, %s", writes, dumps, &res)
	}
}

func TestSyncUpdatesInPlace(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	d := webDesired()
	d.Services[0].Scheduler = "wrr"
	d.Services[0].Destinations[0].Weight = 7
	d.Services[0].Destinations = append(d.Services[0].Destinations, desiredtest.Dest("10.0.0.4:80", 1))
	res, writes, dumps := e.syncCounting(d)
	if writes != 3 || dumps != 0 || res.Services.Updated != 1 || res.Destinations.Updated != 1 || res.Destinations.Added != 1 {
		t.Errorf("%d writes, %d dumps, %s", writes, dumps, &res)
	}
	e.wantState(edit(webState,
		"TCP  192.0.2.1:80 rr", "TCP  192.0.2.1:80 wrr\n",
		"10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    7      0          0\n"+
			"  -> 10.0.0.4:80                  Masq    1      0          0\n"))
}

func TestSyncRemovesServiceAndVIP(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	d := webDesired()
	d.Services = d.Services[:2]
	d.Addresses = d.ServiceAddresses()
	res := e.sync(d)
	if res.Services.Deleted != 1 || res.Addresses.Deleted != 1 {
		t.Errorf("%s", &res)
	}
	e.wantState(webTCP + webUDP + "dummy 192.0.2.1\n")
	e.sync(desired.State{})
	e.wantState(``)
	if owned := e.r.Owned(); len(owned.Services) != 0 || len(owned.Addresses) != 0 {
		t.Errorf("record after removing everything: %+v", owned)
	}
}

func TestInvalidServiceIsLeftAlone(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	before := e.state()
	d := webDesired()
	d.Services[0].Scheduler = ""                                                                         // invalid: kept as it is
	d.Services[1].Destinations = append(d.Services[1].Destinations, desiredtest.Dest("10.0.0.9:53", -1)) // invalid too
	_, err := e.r.Sync(t.Context(), d)
	if err == nil {
		t.Fatal("Sync accepted invalid services")
	}
	if got := e.state(); got != before {
		t.Errorf("invalid services were changed:\n%s\nwant:\n%s", got, before)
	}
}

func TestSyncWithoutAddressBinder(t *testing.T) {
	e := newEnv(t)
	r, err := reconciler.New(e.cfg, reconciler.Deps{Kernel: e.kernel})
	if err != nil {
		t.Fatal(err)
	}
	d := webDesired()
	d.Addresses = nil
	if _, err := r.Sync(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	d.Addresses = []netip.Addr{addr("192.0.2.1")}
	if _, err := r.Sync(t.Context(), d); err == nil {
		t.Error("addresses desired without a binder: no error")
	}
}

func TestNewValidates(t *testing.T) {
	_, err := reconciler.New(reconciler.Config{FullResyncInterval: -1}, reconciler.Deps{Kernel: nil})
	if err == nil {
		t.Error("New accepted a negative interval")
	}
	if _, err := reconciler.New(reconciler.Config{}, reconciler.Deps{}); err == nil {
		t.Error("New accepted no kernel")
	}
}

package reconciler_test

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestFullResyncRepairsDrift(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	want := e.state()

	// Hands on the table: a service deleted, a weight changed, a
	// scheduler changed, a VIP removed.
	must(t, e.kernel.DeleteService(desiredtest.UDP("192.0.2.1:53")))
	must(t, e.kernel.UpdateDestination(desiredtest.TCP("192.0.2.1:80"), desiredtest.Dest("10.0.0.1:80", 100)))
	must(t, e.kernel.UpdateService(ipvs.Service{Key: desiredtest.TCP("[2001:db8::1]:443"), Scheduler: "rr"}))
	e.addrs.RemoveDummy(addr("2001:db8::1"))

	// Incremental syncs trust the model and do not see it ...
	if res, writes, _ := e.syncCounting(webDesired()); writes != 0 {
		t.Errorf("incremental sync wrote %d: %s", writes, &res)
	}
	// ... the periodic full resync does.
	e.advance(time.Minute)
	res, _, dumps := e.syncCounting(webDesired())
	if !res.Full || dumps != 1 {
		t.Errorf("no full resync after a minute: %s", &res)
	}
	if res.Services.Added != 1 || res.Services.Updated != 1 || res.Destinations.Updated != 1 || res.Destinations.Added != 1 || res.Addresses.Added != 1 {
		t.Errorf("repair: %s", &res)
	}
	if got := e.state(); got != want {
		t.Errorf("after repair:\n%s\nwant:\n%s", got, want)
	}
}

func TestFullResyncInterval(t *testing.T) {
	e := newEnv(t)
	e.cfg.FullResyncInterval = 10 * time.Second
	e.restart()
	e.sync(webDesired())
	e.advance(9 * time.Second)
	if res := e.sync(webDesired()); res.Full {
		t.Error("full resync before the interval")
	}
	e.advance(time.Second)
	if res := e.sync(webDesired()); !res.Full {
		t.Error("no full resync at the interval")
	}
	e.r.RequestFullResync()
	if res := e.sync(webDesired()); !res.Full {
		t.Error("RequestFullResync ignored")
	}
}

func TestDriftFoundByFailedWriteTriggersFullResync(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	// Deleted by hand, then changed in the desired state before the next
	// full resync: the update meets ESRCH.
	must(t, e.kernel.DeleteService(desiredtest.TCP("192.0.2.1:80")))
	d := webDesired()
	d.Services[0].Destinations[0].Weight = 5
	if _, err := e.r.Sync(t.Context(), d); err == nil {
		t.Fatal("update of a vanished service did not fail")
	}
	res := e.sync(d)
	if !res.Full || res.Services.Added != 1 {
		t.Errorf("retry was not a full resync: %s", &res)
	}
	e.wantState(`
		TCP  192.0.2.1:80 rr
		  -> 10.0.0.1:80                  Masq    2      0          0
		  -> 10.0.0.2:80                  Masq    5      0          0
		UDP  192.0.2.1:53 wrr
		  -> 10.0.0.3:53                  Masq    1      0          0
		TCP  [2001:db8::1]:443 wlc
		  -> [2001:db8::10]:8443          Masq    1      0          0
		dummy 192.0.2.1
		dummy 2001:db8::1
	`)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

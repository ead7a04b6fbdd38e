package reconciler_test

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

func TestFullResyncRepairsDrift(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	want := e.state()

	// Hands on the table: a service deleted, a weight changed, a VIP
	// removed, a scheduler changed.
	e.driftWeb()
	must(t, e.kernel.UpdateService(ipvs.Service{Key: web6, Scheduler: "rr"}))

	// Incremental syncs trust the model and do not see it ...
	if res, writes, _ := e.syncCounting(webDesired()); writes != 0 {
		t.Errorf("incremental sync wrote %d: %s", writes, &res)
	}
	// ... the periodic full resync does.
	e.advance(time.Minute)
	// One dump, and a read of the service deleted by hand (sweepHave).
	res, _, dumps := e.syncCounting(webDesired())
	if !res.Full || dumps != 2 {
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

// TestFullResyncIntervalCountsFromItsEnd: a full resync that takes longer
// than the interval (a 100,000-destination dump under emulation) must not
// make every later sync a full one, or a change would always wait for the
// next dump.
func TestFullResyncIntervalCountsFromItsEnd(t *testing.T) {
	e := newEnv(t)
	e.cfg.FullResyncInterval = 10 * time.Second
	e.restart()
	e.kernel.SetHook(func(op ipvstest.Op, _ ipvs.Key, _ ipvs.DestKey) error {
		if op == ipvstest.OpDump {
			e.advance(15 * time.Second) // the dump outlasts the interval
		}
		return nil
	})
	if res := e.sync(webDesired()); !res.Full {
		t.Fatal("first sync not full")
	}
	e.advance(9 * time.Second)
	if res := e.sync(webDesired()); res.Full {
		t.Error("full resync 9 s after the last one ended")
	}
	e.advance(time.Second)
	if res := e.sync(webDesired()); !res.Full {
		t.Error("no full resync an interval after the last one ended")
	}
}

func TestDriftFoundByFailedWriteTriggersFullResync(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	// Deleted by hand, then changed in the desired state before the next
	// full resync: the update meets ESRCH.
	must(t, e.kernel.DeleteService(web))
	d := webDesired()
	d.Services[0].Destinations[0].Weight = 5
	if _, err := e.r.Sync(t.Context(), d); err == nil {
		t.Fatal("update of a vanished service did not fail")
	}
	res := e.sync(d)
	if !res.Full || res.Services.Added != 1 {
		t.Errorf("retry was not a full resync: %s", &res)
	}
	e.wantState(edit(webState, "10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    5      0          0\n"))
}

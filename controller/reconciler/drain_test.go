package reconciler_test

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

func TestDrainUntilIdle(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, e.kernel.SetConns(web, drop, 2, 5))
	// Past the publish interval, so only the drain check asks for a requeue.
	e.advance(time.Second)

	res, writes, dumps := e.syncCounting(withoutDrop())
	if writes != 1 || dumps != 0 || res.DrainsStarted != 1 || res.Draining != 1 || res.RequeueAfter != 5*time.Second {
		t.Errorf("drain start: %d writes, %d dumps, requeue %v, %s", writes, dumps, res.RequeueAfter, &res)
	}
	e.wantState(edit(webState, "10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    0      2          5\n"))
	// Before the check is due: nothing read.
	e.advance(time.Second)
	if res, writes, dumps := e.syncCounting(withoutDrop()); writes != 0 || dumps != 0 || res.Draining != 1 {
		t.Errorf("early: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	// Due, still busy: one read of that one service, no write.
	e.advance(4 * time.Second)
	if res, writes, dumps := e.syncCounting(withoutDrop()); writes != 0 || dumps != 1 || res.Draining != 1 {
		t.Errorf("busy: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	if n := e.kernel.Calls(ipvstest.OpGetDestinations); n != 1 {
		t.Errorf("busy: %d one-service reads, want 1 instead of a full dump", n)
	}
	must(t, e.kernel.SetConns(web, drop, 0, 0))
	e.advance(5 * time.Second)
	res, writes, _ = e.syncCounting(withoutDrop())
	if writes != 1 || res.DrainsFinished != 1 || res.Draining != 0 || res.RequeueAfter != 0 {
		t.Errorf("idle: %d writes, %s", writes, &res)
	}
	if got := e.table(); got != edit(webTable, "10.0.0.2:80", "") {
		t.Errorf("after drain:\n%s", got)
	}
}

func TestDrainTimesOut(t *testing.T) {
	e := newEnv(t)
	d := webDesired()
	d.Services[0].DrainTimeout = 20 * time.Second
	e.sync(d)
	must(t, e.kernel.SetConns(web, drop, 9, 9))
	d = withoutDrop()
	d.Services[0].DrainTimeout = 20 * time.Second
	e.sync(d)
	for range 3 {
		e.advance(5 * time.Second)
		if res := e.sync(d); res.Draining != 1 {
			t.Fatalf("finished early: %s", &res)
		}
	}
	e.advance(5 * time.Second)
	res := e.sync(d)
	if res.DrainsFinished != 1 || res.Destinations.Deleted != 1 {
		t.Errorf("timeout: %s", &res)
	}
}

func TestDrainFinishesOnFullResyncWithoutExtraReads(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	// The drain starts on a full resync: the dump already says the real
	// server is idle, so it goes in the same sync.
	e.advance(time.Minute)
	res, writes, dumps := e.syncCounting(withoutDrop())
	if !res.Full || dumps != 1 || writes != 2 || res.DrainsStarted != 1 || res.DrainsFinished != 1 {
		t.Errorf("%d writes, %d dumps: %s", writes, dumps, &res)
	}
}

func TestReturningRealServerIsUpdatedInPlace(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, e.kernel.SetConns(web, drop, 1, 0))
	e.sync(withoutDrop())
	e.advance(time.Second)
	res, writes, _ := e.syncCounting(webDesired())
	if writes != 1 || res.Destinations.Updated != 1 || res.Destinations.Added != 0 || res.Destinations.Deleted != 0 || res.Draining != 0 {
		t.Errorf("%d writes: %s", writes, &res)
	}
	e.advance(time.Hour) // no stale drain deletes it later
	e.sync(webDesired())
	e.sync(webDesired())
	if got := e.table(); got != edit(webTable, "10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    1      1          0\n") {
		t.Errorf("state:\n%s", got)
	}
}

func TestUDPRealServerDeletedAtOnceWithConntrack(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, e.kernel.SetConns(dns, desiredtest.Dest("10.0.0.3:53", 0).DestKey, 0, 40))
	flow := reconcilertest.Flow{VIP: mustAddrPort("192.0.2.1:53"), Backend: mustAddrPort("10.0.0.3:53")}
	e.ct.Add(flow, 40)
	d := webDesired()
	d.Services[1].Destinations = []ipvs.Destination{desiredtest.Dest("10.0.0.4:53", 1)}
	res := e.sync(d)
	if res.Destinations.Added != 1 || res.Destinations.Deleted != 1 || res.DrainsStarted != 0 || res.ConntrackDeleted != 40 {
		t.Errorf("%s, conntrack %d", &res, res.ConntrackDeleted)
	}
	if n := e.ct.Entries(flow); n != 0 || len(e.ct.Deleted) != 1 {
		t.Errorf("conntrack entries left %d, calls %v", n, e.ct.Deleted)
	}
	if got := e.table(); got != edit(webTable, "10.0.0.3:53", "  -> 10.0.0.4:53                  Masq    1      0          0\n") {
		t.Errorf("state:\n%s", got)
	}
}

func TestRemovedServiceIsDeletedAtOnceEvenWhileDraining(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, e.kernel.SetConns(web, drop, 3, 0))
	e.sync(withoutDrop())
	d := withoutDrop()
	d.Services = d.Services[1:]
	res := e.sync(d)
	if res.Services.Deleted != 1 || res.Draining != 0 {
		t.Errorf("%s", &res)
	}
}

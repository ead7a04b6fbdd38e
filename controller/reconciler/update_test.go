package reconciler_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

func set(vss ...desired.VirtualServer) desired.Update {
	return desired.Update{Set: vss}
}

func TestApplySetDeleteAddresses(t *testing.T) {
	e := newEnv(t)
	d := webDesired()
	res := e.apply(desired.Update{Set: d.Services, Addresses: d.Addresses, SetAddresses: true})
	if !res.Full || res.Services.Added != 3 || res.Addresses.Added != 2 {
		t.Errorf("first apply: %s", &res)
	}
	e.wantState(webState)

	// One weight: one write, no read, one service looked at.
	vs := d.Services[0]
	vs.Destinations = slices.Clone(vs.Destinations)
	vs.Destinations[0].Weight = 7
	res, writes, dumps := e.applyCounting(set(vs))
	if writes != 1 || dumps != 0 || res.Planned != 1 || res.Destinations.Updated != 1 {
		t.Errorf("one weight: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	// The same value again: nothing to do, nothing looked at.
	if res, writes, _ := e.applyCounting(set(vs)); writes != 0 || res.Planned != 0 {
		t.Errorf("same value: %d writes, %s", writes, &res)
	}

	// Addresses are left alone unless SetAddresses says otherwise.
	res, writes, _ = e.applyCounting(desired.Update{Delete: []ipvs.Key{web6}})
	if writes != 1 || res.Services.Deleted != 1 || res.Addresses.Deleted != 0 || res.Planned != 1 {
		t.Errorf("delete: %d writes, %s", writes, &res)
	}
	res = e.apply(desired.Update{Addresses: d.Addresses[:1], SetAddresses: true})
	if res.Addresses.Deleted != 1 || res.Planned != 0 {
		t.Errorf("addresses: %s", &res)
	}
	e.wantState(edit(webTCP, "10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    7      0          0\n") +
		webUDP + "dummy 192.0.2.1\n")

	// Deletes go before sets: deleting and setting a key sets it.
	res = e.apply(desired.Update{Delete: []ipvs.Key{web}, Set: d.Services[:1]})
	if res.Destinations.Updated != 1 || res.Services.Deleted != 0 {
		t.Errorf("delete and set: %s", &res)
	}
	// Deleting what is not desired does nothing.
	if res, writes, _ := e.applyCounting(desired.Update{Delete: []ipvs.Key{desiredtest.TCP("203.0.113.1:80")}}); writes != 0 {
		t.Errorf("delete of nothing: %d writes, %s", writes, &res)
	}
	if res, writes, dumps := e.applyCounting(desired.Update{}); writes != 0 || dumps != 0 || res.Planned != 0 {
		t.Errorf("empty update: %d writes, %d dumps, %s", writes, dumps, &res)
	}
}

func TestApplyInvalidServiceKeptUntouched(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	d := webDesired()
	bad := d.Services[0]
	bad.Scheduler = ""
	twice := d.Services[1]
	twice.Destinations = []ipvs.Destination{desiredtest.Dest("10.0.0.9:53", 1)}
	_, err := e.r.Apply(t.Context(), set(bad, twice, d.Services[1]))
	if err == nil {
		t.Fatal("Apply accepted an invalid service and one listed twice")
	}
	e.wantState(webState)
	// Reported on every sync until fixed, as Sync reports an invalid
	// service in each state it is given.
	res, err := e.r.Apply(t.Context(), desired.Update{})
	if len(res.Errors) != 2 || err == nil || res.NeedsRetry {
		t.Errorf("empty update: err %v, %s", err, &res)
	}
	// Still kept, neither deleted nor changed, by a full resync.
	e.advance(time.Minute)
	if res, err := e.r.Apply(t.Context(), desired.Update{}); !res.Full || res.Writes() != 0 || err == nil {
		t.Errorf("full resync: err %v, %s", err, &res)
	}
	e.wantState(webState)

	// Fixed: the kept services are as desired, nothing to write.
	res, writes, _ := e.applyCounting(set(d.Services[0], d.Services[1]))
	if writes != 0 || len(res.Errors) != 0 {
		t.Errorf("fixed: %d writes, %s", writes, &res)
	}
	// An invalid service removed from the desired state is deleted.
	e.r.Apply(t.Context(), set(bad))
	res = e.apply(desired.Update{Delete: []ipvs.Key{web}})
	if res.Services.Deleted != 1 {
		t.Errorf("delete of an invalid service: %s", &res)
	}
}

func TestApplyRetriesFailedWork(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	e.kernel.SetHook(failing(ipvstest.OpAddDestination, dns, unix.ENOMEM))
	d := webDesired()
	d.Services[1].Destinations = append(d.Services[1].Destinations, desiredtest.Dest("10.0.0.4:53", 1))
	if res, err := e.r.Apply(t.Context(), set(d.Services[1])); !errors.Is(err, unix.ENOMEM) || !res.NeedsRetry {
		t.Fatalf("err %v, %s", err, &res)
	}
	// An empty Update retries the failed service once its retry is due,
	// and only it.
	e.advance(retryInterval)
	e.kernel.ResetCalls()
	res, err := e.r.Apply(t.Context(), desired.Update{})
	if !errors.Is(err, unix.ENOMEM) || e.kernel.Writes() != 1 || res.Planned != 1 {
		t.Errorf("retry while failing: err %v, %d writes, %s", err, e.kernel.Writes(), &res)
	}
	e.kernel.SetHook(nil)
	e.advance(2 * retryInterval) // the second failure doubled the wait
	res, writes, dumps := e.applyCounting(desired.Update{})
	if writes != 1 || dumps != 0 || res.NeedsRetry || res.Destinations.Added != 1 {
		t.Errorf("retry: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	if res, writes, _ := e.applyCounting(desired.Update{}); writes != 0 || res.Planned != 0 {
		t.Errorf("after recovery: %d writes, %s", writes, &res)
	}

	// A Sync of the same state retries failed work just the same.
	e.kernel.SetHook(failing(ipvstest.OpUpdateDestination, anyService, unix.ENOMEM))
	d.Services[0].Destinations[0].Weight = 9
	if _, err := e.r.Apply(t.Context(), set(d.Services[0])); err == nil {
		t.Fatal("no error")
	}
	e.kernel.SetHook(nil)
	e.advance(retryInterval)
	res, writes, _ = e.syncCounting(d)
	if writes != 1 || res.Destinations.Updated != 1 || res.Planned != 1 {
		t.Errorf("retry by Sync: %d writes, %s", writes, &res)
	}
}

func TestApplyAndSyncInterleave(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	extra := desiredtest.VServer(desiredtest.TCP("192.0.2.1:443"), "rr", desiredtest.Dest("10.0.0.1:443", 1))
	vs := webDesired().Services[0]
	vs.Destinations[0].Weight = 5
	e.apply(set(extra, vs))
	// Sync replaces the whole state: the weight goes back, the extra
	// service goes, and only those two are looked at (the one deleted is
	// read first: one read of one service).
	res, writes, dumps := e.syncCounting(webDesired())
	if writes != 2 || dumps != 1 || res.Planned != 2 || res.Services.Deleted != 1 || res.Destinations.Updated != 1 {
		t.Errorf("sync after apply: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	e.wantState(webState)
	// Apply builds on what Sync set.
	res = e.apply(set(extra))
	if res.Services.Added != 1 || res.Planned != 1 {
		t.Errorf("apply after sync: %s", &res)
	}
	d := webDesired()
	d.Services = append(d.Services, extra)
	if res, writes, _ := e.syncCounting(d); writes != 0 || res.Planned != 0 {
		t.Errorf("sync of the same state: %d writes, %s", writes, &res)
	}
	// Input order and duplicate-free address lists in another order do
	// not count as changes.
	slices.Reverse(d.Services)
	slices.Reverse(d.Addresses)
	slices.Reverse(d.Services[len(d.Services)-1].Destinations)
	if res, writes, _ := e.syncCounting(d); writes != 0 || res.Planned != 0 {
		t.Errorf("reordered state: %d writes, %s", writes, &res)
	}
}

func TestFullResyncAfterAppliesRepairsDrift(t *testing.T) {
	e := newEnv(t)
	d := webDesired()
	e.apply(desired.Update{Set: d.Services, Addresses: d.Addresses, SetAddresses: true})
	e.driftWeb()
	if res, writes, _ := e.applyCounting(desired.Update{}); writes != 0 || res.Full {
		t.Errorf("incremental apply wrote %d: %s", writes, &res)
	}
	e.advance(time.Minute)
	// One dump, and the service deleted by hand read again before it is
	// created anew (a dump can skip services: sweepHave).
	res, _, dumps := e.applyCounting(desired.Update{})
	if !res.Full || dumps != 2 || res.Services.Added != 1 || res.Destinations.Updated != 1 || res.Addresses.Added != 1 {
		t.Errorf("repair: %d dumps, %s", dumps, &res)
	}
	e.wantState(webState)
}

// TestApplyLooksOnlyAtTheChange is the structural form of the issue's
// benchmark: at 10,000 services an incremental sync looks at the services
// that changed and no others.
func TestApplyLooksOnlyAtTheChange(t *testing.T) {
	const n = 10000
	e := newEnv(t)
	d := bigDesired(n, 2)
	if res := e.sync(d); res.Planned != n {
		t.Fatalf("cold sync planned %d services: %s", res.Planned, &res)
	}
	if res, writes, _ := e.syncCounting(d); writes != 0 || res.Planned != 0 {
		t.Errorf("unchanged Sync: %d writes, %s", writes, &res)
	}
	vs := d.Services[n/2]
	vs.Destinations = slices.Clone(vs.Destinations)
	vs.Destinations[1].Weight = 3
	res, writes, dumps := e.applyCounting(set(vs))
	if writes != 1 || dumps != 0 || res.Planned != 1 {
		t.Errorf("one change by Apply: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	if res, writes, _ := e.applyCounting(desired.Update{}); writes != 0 || res.Planned != 0 {
		t.Errorf("empty Apply: %d writes, %s", writes, &res)
	}
	d.Services[7].Destinations[0].Weight = 4
	res, writes, _ = e.syncCounting(d)
	// The Sync reverts the Apply's change and makes its own.
	if writes != 2 || res.Planned != 2 {
		t.Errorf("two changes by Sync: %d writes, %s", writes, &res)
	}
}

func TestApplyPublishesDesiredState(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	vs := webDesired().Services[0]
	vs.Destinations[0].Weight = 6
	e.apply(set(vs))
	e.advance(time.Second) // past the publish interval
	e.apply(desired.Update{})
	got, err := runstate.LoadDesired(runstate.DesiredPath(e.cfg.RecordPath))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(got, func(v desired.VirtualServer) bool { return v.Key == web })
	if len(got) != 3 || i < 0 || !slices.ContainsFunc(got[i].Destinations, func(d ipvs.Destination) bool { return d.Weight == 6 }) {
		t.Errorf("published desired state %+v", got)
	}
}

func TestSyncDuplicateKeptUntouched(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	d := webDesired()
	other := d.Services[1]
	other.Destinations = []ipvs.Destination{desiredtest.Dest("10.0.0.9:53", 1)}
	d.Services = append(d.Services, other)
	res, err := e.r.Sync(t.Context(), d)
	if err == nil || len(res.Errors) != 1 || res.Writes() != 0 {
		t.Fatalf("err %v, %s", err, &res)
	}
	e.wantState(webState)
	// Listed once again: as applied, nothing to write.
	if res, writes, _ := e.syncCounting(webDesired()); writes != 0 || len(res.Errors) != 0 {
		t.Errorf("%d writes, %s", writes, &res)
	}
}

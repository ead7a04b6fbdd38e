package reconciler_test

import (
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// weightIn is the kernel's weight of k's real server i (in desired order).
func weightIn(t *testing.T, f *ipvstest.Fake, vs desired.VirtualServer, i int) int {
	t.Helper()
	s, err := f.GetService(vs.Key)
	if err != nil {
		t.Fatalf("reading %s: %v", vs.Key, err)
	}
	for _, d := range s.Destinations {
		if d.DestKey == vs.Destinations[i].DestKey {
			return d.Weight
		}
	}
	return -1
}

// TestFullResyncIsSweptInSlices: once the kernel is programmed, a full
// resync of a table larger than a slice compares one slice per sync, in
// the dump's order, and repairs drift slice by slice. Changes go in the syncs
// between the slices at once; a service changed before its slice comes is
// read again then, so the dump's stale copy neither undoes the change nor
// hides drift made after the dump.
func TestFullResyncIsSweptInSlices(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(2000, 10) // 20,000 real servers: many slices
	if res := e.sync(d); !res.SweepDone || res.SweepLeft != 0 || res.Services.Added != 2000 {
		t.Fatalf("cold start in one sync: %s (done %v, left %d)", &res, res.SweepDone, res.SweepLeft)
	}
	first, late, gone := d.Services[0], d.Services[1999], d.Services[1500]
	drift := func(vs desired.VirtualServer, i, w int) {
		t.Helper()
		dst := vs.Destinations[i]
		dst.Weight = w
		must(t, e.kernel.UpdateDestination(vs.Key, dst))
	}
	drift(first, 0, 7)
	drift(late, 0, 7)
	e.r.RequestFullResync()

	e.kernel.ResetCalls()
	res := e.sync(d)
	if !res.Full || res.SweepDone || res.SweepLeft == 0 || e.kernel.Calls(ipvstest.OpDump) != 1 {
		t.Fatalf("first slice: %s (left %d, %d dumps)", &res, res.SweepLeft, e.kernel.Calls(ipvstest.OpDump))
	}
	if res.Planned > reconciler.SliceDests/10+1 || res.Destinations.Updated != 1 || weightIn(t, e.kernel, first, 0) != 1 {
		t.Fatalf("first slice planned %d, repaired %d (want one slice and the first service's drift): %s",
			res.Planned, res.Destinations.Updated, &res)
	}

	// Between slices: a change to a service the sweep has not reached is
	// written at once, and so is the deletion of another; drift made on
	// the changed one after the dump is still found in its slice.
	d.Services[1999].Destinations[1].Weight = 5
	drift(late, 2, 9)
	d.Services = append(d.Services[:1500:1500], d.Services[1501:]...)
	res = e.sync(d)
	if res.SweepDone || res.Services.Deleted != 1 || weightIn(t, e.kernel, late, 1) != 5 {
		t.Fatalf("change between slices: %s", &res)
	}
	if _, err := e.kernel.GetService(gone.Key); err == nil {
		t.Fatalf("deleted service %s is still in the kernel", gone.Key)
	}

	// A slice is the services of its first SliceDests real servers and
	// the one that reaches it (the deleted service still counts).
	perSlice := (reconciler.SliceDests + 9) / 10
	wantSyncs := (2000 + perSlice - 1) / perSlice
	syncs := 2
	e.kernel.ResetCalls()
	for !res.SweepDone {
		if syncs > 2*wantSyncs {
			t.Fatalf("sweep not done after %d syncs: %s", syncs, &res)
		}
		res = e.sync(d)
		syncs++
	}
	if syncs != wantSyncs {
		t.Errorf("sweep took %d syncs, want %d", syncs, wantSyncs)
	}
	if n := e.kernel.Calls(ipvstest.OpDump); n != 0 {
		t.Errorf("the sweep's later slices dumped %d times", n)
	}
	for i, want := range []int{1, 5, 1} {
		if got := weightIn(t, e.kernel, late, i); got != want {
			t.Errorf("last service's real server %d: weight %d, want %d", i, got, want)
		}
	}
	// Done: the next sync is partial again and finds nothing to do.
	if res, writes, _ := e.syncCounting(d); res.Full || writes != 0 {
		t.Errorf("after the sweep: %s, %d writes", &res, writes)
	}
}

// TestSmallTableSweptAtOnce: a table within one slice is compared in the
// sync that dumps, as before sweeps.
func TestSmallTableSweptAtOnce(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(100, 10)
	e.sync(d)
	e.r.RequestFullResync()
	res := e.sync(d)
	if !res.Full || !res.SweepDone || res.SweepLeft != 0 || res.Planned != 100 {
		t.Fatalf("full resync of 100 services: %s (done %v, left %d)", &res, res.SweepDone, res.SweepLeft)
	}
}

// TestDumpThatSkipsAServiceIsCheckedByReading: a full resync's dump that
// lacks a virtual server ipvsd programmed (the kernel's service dump can
// skip some when another namespace's table changes meanwhile) reads it
// again instead of creating it anew, which the kernel would refuse.
func TestDumpThatSkipsAServiceIsCheckedByReading(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(50, 10)
	e.sync(d)
	e.kernel.SkipInNextDump(d.Services[7].Key, d.Services[30].Key)
	e.r.RequestFullResync()
	res, writes, _ := e.syncCounting(d)
	if len(res.Errors) != 0 || writes != 0 || !res.SweepDone || res.Dumps != 3 {
		t.Fatalf("full resync with two services missing from its dump: %s, %d writes (want no writes, one dump and two reads)", &res, writes)
	}
}

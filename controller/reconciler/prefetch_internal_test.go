package reconciler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestDumpAheadKeepsOnlyWhatDiffers: the dump taken ahead keeps the real
// servers of the virtual servers unlike the model (edited by hand) and of
// those with a drain (whose counts the resync reads from it), and of the
// others only the service: the model stands for them. The fake overwrites
// what it handed over, so a dump that kept its real servers uncopied would
// show zero values here.
func TestDumpAheadKeepsOnlyWhatDiffers(t *testing.T) {
	kernel := ipvstest.New()
	r, err := New(Config{RecordPath: filepath.Join(t.TempDir(), "state.json"), FullResyncInterval: time.Hour},
		Deps{Kernel: kernel, Dumper: kernel})
	if err != nil {
		t.Fatal(err)
	}
	same, edited, draining := desiredtest.TCP("192.0.2.1:80"), desiredtest.TCP("192.0.2.2:80"), desiredtest.TCP("192.0.2.3:80")
	state := func(drainingDests ...ipvs.Destination) desired.State {
		return desired.State{Services: []desired.VirtualServer{
			desiredtest.VServer(same, "rr", desiredtest.Dest("10.0.0.1:80", 1), desiredtest.Dest("10.0.0.2:80", 1)),
			desiredtest.VServer(edited, "rr", desiredtest.Dest("10.0.0.3:80", 1), desiredtest.Dest("10.0.0.4:80", 1)),
			desiredtest.VServer(draining, "rr", drainingDests...),
		}}
	}
	busy := desiredtest.Dest("10.0.0.6:80", 1)
	ctx := context.Background()
	if _, err := r.Sync(ctx, state(desiredtest.Dest("10.0.0.5:80", 1), busy)); err != nil {
		t.Fatal(err)
	}
	if err := kernel.SetConns(draining, busy.DestKey, 3, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sync(ctx, state(desiredtest.Dest("10.0.0.5:80", 1))); err != nil { // busy drains
		t.Fatal(err)
	}
	if err := kernel.UpdateDestination(edited, desiredtest.Dest("10.0.0.3:80", 7)); err != nil {
		t.Fatal(err)
	}

	ready := make(chan struct{})
	r.PrefetchDump(func() { close(ready) })
	<-ready
	a := r.pf.actual
	for _, tc := range []struct {
		k       ipvs.Key
		matched bool
		dests   int
	}{{same, true, 0}, {edited, false, 2}, {draining, false, 2}} {
		got := a.byKey[tc.k]
		if got == nil {
			t.Fatalf("%s: not in the dump", tc.k)
		}
		if a.matched[tc.k] != tc.matched || len(got.Destinations) != tc.dests {
			t.Errorf("%s: matched %t with %d real servers, want %t with %d", tc.k, a.matched[tc.k], len(got.Destinations), tc.matched, tc.dests)
		}
		for _, d := range got.Destinations {
			if !d.Address.IsValid() {
				t.Errorf("%s: a real server kept uncopied, overwritten: %+v", tc.k, d)
			}
		}
	}

	// The resync repairs the hand edit from the dump and writes nothing
	// else: the matched service is compared as the model holds it.
	r.RequestFullResync()
	kernel.ResetCalls()
	res, err := r.Apply(ctx, desired.Update{})
	if err != nil || !res.Full {
		t.Fatalf("full resync: %v, %s", err, &res)
	}
	if got := kernel.Writes(); got != 1 {
		t.Errorf("%d writes, want 1 (the edited weight put back): %s", got, &res)
	}
	if res.Draining != 1 {
		t.Errorf("%d draining, want the busy real server still draining: %s", res.Draining, &res)
	}
}

package reconciler_test

import (
	"slices"
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
)

// TestModelSharesDesiredRealServers: a service whose real servers are as
// desired holds them once (the model shares the desired value's slice);
// only a service whose kernel state differs, a real server draining,
// keeps a copy, and a change to a shared model never reaches the desired
// value (the copy is made first).
func TestModelSharesDesiredRealServers(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(100, 10)
	e.sync(d)
	wantCopies(t, e, "after the cold sync", 0, 100)

	// A weight changed in place: applied, the model is the new value,
	// and the value it shared before is as it was.
	k := d.Services[3].Key
	before := e.r.DesiredDests(k)
	d.Services[3].Destinations = slices.Clone(d.Services[3].Destinations)
	d.Services[3].Destinations[0].Weight = 5
	e.apply(desired.Update{Set: d.Services[3:4]})
	wantCopies(t, e, "after a weight change", 0, 100)
	if before[0].Weight != 1 || e.r.DesiredDests(k)[0].Weight != 5 {
		t.Errorf("weights %d (the old desired value) and %d (the new), want 1 and 5", before[0].Weight, e.r.DesiredDests(k)[0].Weight)
	}

	// A TCP real server removed drains at weight 0: the kernel holds one
	// more than is desired, so that model is a copy of its own.
	svc := d.Services[7]
	before = e.r.DesiredDests(svc.Key)
	svc.Destinations = svc.Destinations[1:]
	e.apply(desired.Update{Set: []desired.VirtualServer{svc}})
	wantCopies(t, e, "while one drains", 1, 100)
	if before[0].Weight != 1 {
		t.Errorf("the old desired value's first real server has weight %d, want 1: the drain wrote into it", before[0].Weight)
	}

	// A full resync models the dump (copies), and applying the desired
	// state shares it again.
	e.r.RequestFullResync()
	e.sync(d)
	wantCopies(t, e, "after a full resync", 0, 100)
}

func wantCopies(t *testing.T, e *env, when string, copies, services int) {
	t.Helper()
	if c, n := e.r.ModelCopies(); c != copies || n != services {
		t.Errorf("%s: %d of %d services keep a copy of their real servers, want %d of %d", when, c, n, copies, services)
	}
}

// TestHandedOverRealServersKept: an Update that hands its real servers
// over has them kept as they are (normalized already), so the daemon
// holds them once; without it the reconciler keeps a copy, and a caller
// changing its slice after changes nothing held.
func TestHandedOverRealServersKept(t *testing.T) {
	for _, handed := range []bool{true, false} {
		e := newEnv(t)
		d := bigDesired(3, 4)
		e.apply(desired.Update{Set: d.Services, HandedOver: handed})
		held := e.r.DesiredDests(d.Services[1].Key)
		if same := &held[0] == &d.Services[1].Destinations[0]; same != handed {
			t.Errorf("handed over %t: the slice is kept %t", handed, same)
		}
		if !handed {
			d.Services[1].Destinations[0].Weight = 7
			if held[0].Weight != 1 {
				t.Errorf("a change to the caller's slice reached the held value (weight %d)", held[0].Weight)
			}
		}
	}
}

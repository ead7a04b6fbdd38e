package dataplane

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
)

// sweepIPVS compares a full resync in slices: after RequestFullResync
// each of the next slices syncs reports what is left, taking each on
// clock.
type sweepIPVS struct {
	fakeIPVS
	clock        *stepClock
	slices, left int
	each         time.Duration
}

func (f *sweepIPVS) RequestFullResync() { f.left = f.slices }

func (f *sweepIPVS) Sync(ctx context.Context, st desired.State) (reconciler.Result, error) {
	res, err := f.fakeIPVS.Sync(ctx, st)
	if f.left > 0 {
		f.clock.now = f.clock.now.Add(f.each)
		f.left--
		res.Full, res.SweepLeft, res.SweepDone = true, f.left*100, f.left == 0
	}
	return res, err
}

// TestSweepGoesOnAtOnce: while the reconciler's sweep is under way each
// sync asks for the next at once and none starts another full resync; the
// full resync ends with the sweep's last slice, so its interval counts
// from there, stretched by the whole sweep's length.
func TestSweepGoesOnAtOnce(t *testing.T) {
	const full, partial = "src.Changes(full)", "src.Changes"
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	ipvs := &sweepIPVS{fakeIPVS: fakeIPVS{c: c}, clock: clock, slices: 3, each: time.Second}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: ipvs, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c, next: Change{Whole: &desired.State{}}}
	type step struct {
		adv  time.Duration
		want string
		now  bool // the next sync is asked for at once
	}
	for i, st := range []step{
		{0, full, true}, // the cold start, swept in three syncs here
		{0, partial, true},
		{time.Minute, partial, false}, // a minute on, but the sweep's last slice
		{59 * time.Second, partial, false},
		{time.Second, full, true}, // a minute after the cold start's sweep ended
		{0, partial, true},
		{0, partial, false}, // done at +3 s: 300 s to the next
		{299 * time.Second, partial, false},
		{time.Second, full, true},
	} {
		clock.now = clock.now.Add(st.adv)
		next, err := p.SyncOnce(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		got := c.take()
		if !slices.Contains(got, st.want) || (next > 0 && next <= time.Millisecond) != st.now {
			t.Errorf("sync %d: %q, next in %v; want %s and at once %v", i, got, next, st.want, st.now)
		}
	}
}

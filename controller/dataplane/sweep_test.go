package dataplane

import (
	"context"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

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

func (f *sweepIPVS) RequestFullResync() { f.c.add("ipvs.FullResync"); f.left = f.slices }

func (f *sweepIPVS) Sync(ctx context.Context, st desired.State) (reconciler.Result, error) {
	res, err := f.fakeIPVS.Sync(ctx, st)
	if f.left > 0 {
		f.clock.now = f.clock.now.Add(f.each)
		f.left--
		res.Full, res.SweepLeft, res.SweepDone = true, f.left*100, f.left == 0
	}
	return res, err
}

// TestSweepGoesOnAtOnce: a full resync goes in steps, each sync asking
// for the next at once and none starting another full resync: the
// reconciler's sweep, then, but for the cold start (which takes the
// source's full pass and the firewall's compare with its first slice),
// the source's full pass in a sync of its own. The full resync ends with
// its last step, so its interval counts from there, stretched by the
// whole resync's length.
func TestSweepGoesOnAtOnce(t *testing.T) {
	const full, partial, resync = "src.Changes(full)", "src.Changes", "ipvs.FullResync"
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	ipvs := &sweepIPVS{fakeIPVS: fakeIPVS{c: c}, clock: clock, slices: 3, each: time.Second}
	m := NewMetrics(StatsConfig{}, nil)
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: ipvs, Clock: clock, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c, next: Change{Whole: &desired.State{}}}
	type step struct {
		adv  time.Duration
		want []string // in the sync's calls
		not  string   // not in them
		now  bool     // the next sync is asked for at once
	}
	for i, st := range []step{
		{0, []string{resync, full}, "", true}, // the cold start, swept in three syncs here
		{0, []string{partial}, resync, true},
		{time.Minute, []string{partial}, resync, false}, // a minute on, but the sweep's last slice
		{59 * time.Second, []string{partial}, resync, false},
		{time.Second, []string{resync, partial}, full, true}, // a minute after the cold start's sweep ended
		{0, []string{partial}, resync, true},
		{0, []string{partial}, full, true}, // the sweep's last slice; the source's part next
		{0, []string{full}, resync, false}, // done at +3 s: 300 s to the next
		{299 * time.Second, []string{partial}, resync, false},
		{time.Second, []string{resync, partial}, full, true},
	} {
		clock.now = clock.now.Add(st.adv)
		next, err := p.SyncOnce(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		got := c.take()
		ok := !slices.Contains(got, st.not) && (next > 0 && next <= time.Millisecond) == st.now
		for _, w := range st.want {
			ok = ok && slices.Contains(got, w)
		}
		if !ok {
			t.Errorf("sync %d: %q, next in %v; want %q, not %q, and at once %v", i, got, next, st.want, st.not, st.now)
		}
	}
	// Two full resyncs ended: the cold start's (63 s, from the first sync
	// to its last slice a minute on) and the periodic one's (3 s); the
	// third has begun.
	var dm dto.Metric
	if err := m.fullDuration.Write(&dm); err != nil {
		t.Fatal(err)
	}
	if n, sum := dm.GetHistogram().GetSampleCount(), dm.GetHistogram().GetSampleSum(); n != 2 || sum != 66 {
		t.Errorf("ipvsd_full_resync_duration_seconds: %d observed, %v s in all; want 2 and 66 s", n, sum)
	}
}

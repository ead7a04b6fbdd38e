package dataplane

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
)

// prefetchIPVS takes a full resync's dump ahead: PrefetchDump reports
// done once the test says so.
type prefetchIPVS struct {
	fakeIPVS
	done bool
}

func (f *prefetchIPVS) PrefetchDump(func()) bool {
	f.c.add("ipvs.PrefetchDump")
	return f.done
}

// TestFullResyncWaitsForItsDumpAhead: once a full resync is due, its dump
// is taken ahead and syncs stay partial (changes are programmed at once)
// until it is done; the full resync then runs, and its share of the time
// counts from the dump's start.
func TestFullResyncWaitsForItsDumpAhead(t *testing.T) {
	const full, partial, prefetch = "src.Changes(full)", "src.Changes", "ipvs.PrefetchDump"
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	ipvs := &prefetchIPVS{fakeIPVS: fakeIPVS{c: c}}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: ipvs, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c, next: Change{Whole: &desired.State{}}}
	for i, st := range []struct {
		adv  time.Duration // before the sync
		done bool          // the dump ahead is done
		want []string
	}{
		{0, false, []string{full}}, // the cold start dumps itself
		{59 * time.Second, false, []string{partial}},
		{time.Second, false, []string{prefetch, partial}}, // due: the dump starts
		{5 * time.Second, false, []string{prefetch, partial}},
		{5 * time.Second, true, []string{prefetch, partial}}, // the dump is done: 10 s of resync
		{0, false, []string{full}},                           // its source's part, at once
		{999 * time.Second, false, []string{partial}},        // 100 x 10 s
		{time.Second, false, []string{prefetch, partial}},
	} {
		clock.now = clock.now.Add(st.adv)
		ipvs.done = st.done
		if _, err := p.SyncOnce(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		if got := c.take(); !slices.Equal(got[:min(len(got), len(st.want))], st.want) {
			t.Errorf("sync %d: %q, want %q first", i+1, got, st.want)
		}
	}
}

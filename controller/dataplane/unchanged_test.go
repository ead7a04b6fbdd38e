package dataplane

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
)

// TestUnchangedFirewallIsNotSynced: a change whose firewall state the
// source says is unchanged (an endpoint change, usually) costs the
// firewall nothing once it is in sync; a changed state, a due check or a
// failed last sync still reach it.
func TestUnchangedFirewallIsNotSynced(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	fw := &dataplanetest.Firewall{}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{
		IPVS:         fakeIPVS{c: c},
		OpenFirewall: func(context.Context) (Firewall, error) { return fw, nil },
		Clock:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c, next: Change{Firewall: natService}}
	for i, step := range []struct {
		unchanged           bool
		fwErr               error
		adv                 time.Duration
		wantSyncs, wantChks int
	}{
		{false, nil, 0, 1, 1},           // opened: checked
		{true, nil, time.Second, 1, 1},  // unchanged: nothing
		{true, nil, time.Second, 1, 1},  // still nothing
		{false, nil, time.Second, 2, 1}, // changed: synced
		{false, errors.New("x"), time.Second, 3, 1},
		{true, nil, time.Second, 4, 1}, // unchanged, but the last failed
		{true, nil, time.Second, 4, 1}, // in sync again: nothing
		{true, nil, time.Minute, 5, 2}, // full resync: checked
	} {
		clock.now = clock.now.Add(step.adv)
		src.next.FirewallUnchanged = step.unchanged
		fw.Err = step.fwErr
		_, err := p.SyncOnce(context.Background(), src)
		if (err != nil) != (step.fwErr != nil) {
			t.Errorf("step %d: error %v, want one: %v", i, err, step.fwErr != nil)
		}
		if syncs, checks := fw.Calls(); syncs != step.wantSyncs || checks != step.wantChks {
			t.Errorf("step %d: %d firewall syncs and %d checks, want %d and %d", i, syncs, checks, step.wantSyncs, step.wantChks)
		}
	}
}

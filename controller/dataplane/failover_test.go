package dataplane

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/failover"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestProgrammerFailover: the sync daemons a change asks for are started
// after the virtual servers; one that cannot start (no such interface) is
// logged, is no sync error, does not hold back the other, and is tried
// again soon, waiting longer after each failure; a change without a wish leaves them as they are.
func TestProgrammerFailover(t *testing.T) {
	c := &calls{}
	kernel := ipvstest.NewSyncDaemons("eth1")
	keeper := failover.New(failover.Deps{
		Daemons: kernel, Record: runstate.SyncDaemonStore{Path: filepath.Join(t.TempDir(), runstate.SyncDaemonsFile)},
	})
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: fakeIPVS{c: c}, Failover: keeper, Clock: &stepClock{now: time.Unix(1_000_000, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	want := &failover.Desired{Daemons: []ipvs.SyncDaemon{
		{State: ipvs.SyncMaster, Interface: "eth9", SyncID: 1},
		{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 1},
	}}
	src := &fakeSource{c: c, next: Change{Failover: want}}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		next, err := p.SyncOnce(context.Background(), src)
		if err != nil {
			t.Errorf("a sync daemon that cannot start failed the sync: %v", err)
		}
		if next != want {
			t.Errorf("next sync in %s, want a retry in %s", next, want)
		}
	}
	if got := kernel.Running(); !slices.Equal(got, []ipvs.SyncState{ipvs.SyncBackup}) {
		t.Errorf("running %v, want the backup only (eth9 does not exist)", got)
	}
	if p.failoverErr == "" {
		t.Errorf("the failure was not kept for the log")
	}

	kernel.SetLink("eth9", 1500)
	if next, err := p.SyncOnce(context.Background(), src); err != nil || next != 0 {
		t.Fatalf("SyncOnce = %s, %v; want no early retry once it worked", next, err)
	}
	if got := kernel.Running(); !slices.Equal(got, []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup}) {
		t.Errorf("running %v after the interface appeared, want both", got)
	}

	// No wish: nothing is stopped.
	src.next = Change{}
	if _, err := p.SyncOnce(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := kernel.Running(); len(got) != 2 {
		t.Errorf("a change without Failover stopped daemons: running %v", got)
	}
	// An empty wish stops ipvsd's own.
	src.next = Change{Failover: &failover.Desired{}}
	if _, err := p.SyncOnce(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := kernel.Running(); len(got) != 0 {
		t.Errorf("running %v, want none", got)
	}
}

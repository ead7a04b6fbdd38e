package standalone

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/controller/failover"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestChangesCarryTheSyncSection: every change, partial or full, carries
// the sync daemons and sloppy modes of the config in force, so a reload
// that edits only the sync: section is applied.
func TestChangesCarryTheSyncSection(t *testing.T) {
	td := newTestDaemon(t, twoServices+"sync: {interface: eth1, syncID: 3, role: master}\n")
	check := func(full bool, want failover.Desired) {
		t.Helper()
		ch, err := td.Changes(context.Background(), full)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Failover == nil {
			t.Fatal("no Failover in the change")
		}
		if diff := cmp.Diff(want, *ch.Failover, cmpopts.EquateComparable(ipvs.DefaultSyncGroup)); diff != "" {
			t.Errorf("Failover (-want +got):\n%s", diff)
		}
	}
	check(true, failover.Desired{Daemons: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 3}}, SloppyTCP: true})
	if err := td.ReloadContent("test", []byte(twoServices+"sync: {interface: eth1, syncID: 4, role: both}\n")); err != nil {
		t.Fatal(err)
	}
	check(false, failover.Desired{Daemons: []ipvs.SyncDaemon{
		{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 4},
		{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 4},
	}, SloppyTCP: true})
	if err := td.ReloadContent("test", []byte(twoServices)); err != nil {
		t.Fatal(err)
	}
	check(false, failover.Desired{})
}

package app

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// closingDaemons is the fake with the handle's Close.
type closingDaemons struct{ k *ipvstest.SyncDaemons }

func (c closingDaemons) SyncDaemons() ([]ipvs.SyncDaemon, error) { return c.k.SyncDaemons() }
func (c closingDaemons) StartSyncDaemon(d ipvs.SyncDaemon) error { return c.k.StartSyncDaemon(d) }
func (c closingDaemons) StopSyncDaemon(s ipvs.SyncState) error   { return c.k.StopSyncDaemon(s) }
func (closingDaemons) Close() error                              { return nil }

// TestCleanupStopsOnlyOurSyncDaemons: cleanup stops the daemon ipvsd's
// record names and leaves one started by hand; without a record it does
// not open IPVS at all (a host without ip_vs cleans without error).
func TestCleanupStopsOnlyOurSyncDaemons(t *testing.T) {
	rec := runstate.SyncDaemonStore{Path: filepath.Join(t.TempDir(), runstate.SyncDaemonsFile)}
	noIPVS := func() (syncDaemonsHandle, error) { return nil, errors.New("no ip_vs") }
	if res, err := cleanupSyncDaemons(rec, noIPVS, zaptest.NewLogger(t)); err != nil || len(res.Stopped) != 0 {
		t.Fatalf("without a record: %+v, %v; want nothing done and no error", res, err)
	}

	kernel := ipvstest.NewSyncDaemons("eth1")
	ours := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 2}
	for _, d := range []ipvs.SyncDaemon{ours, {State: ipvs.SyncBackup, Interface: "eth1", SyncID: 2}} {
		if err := kernel.StartSyncDaemon(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Save([]ipvs.SyncDaemon{ours}); err != nil {
		t.Fatal(err)
	}
	open := func() (syncDaemonsHandle, error) { return closingDaemons{kernel}, nil }
	res, err := cleanupSyncDaemons(rec, open, zaptest.NewLogger(t))
	if err != nil || !slices.Equal(res.Stopped, []ipvs.SyncState{ipvs.SyncMaster}) {
		t.Errorf("cleanup = %+v, %v; want the master stopped", res, err)
	}
	if got := kernel.Running(); !slices.Equal(got, []ipvs.SyncState{ipvs.SyncBackup}) {
		t.Errorf("running %v; want the backup started by hand left alone", got)
	}
}

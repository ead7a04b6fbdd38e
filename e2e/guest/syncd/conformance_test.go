//go:build lab

package syncd

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestSyncDaemonConformance runs the table the fake passes on the host
// against ipvs.Handle and the real kernel. Every case gets the same
// namespace, emptied of daemons after it: the table is about one
// namespace's daemons, and tearing namespaces down (which holds the
// kernel's RTNL lock, as starting and stopping a daemon do) would only
// add to the VM's time.
func TestSyncDaemonConformance(t *testing.T) {
	ns := newSyncNS(t)
	h, err := ipvs.New("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	timed := &timedDaemons{h: h}
	t.Cleanup(func() {
		t.Logf("figure: slowest sync daemon start %.2f s, stop %.2f s", timed.start.Seconds(), timed.stop.Seconds())
	})
	ipvstest.RunSyncDaemonConformance(t, func(t *testing.T) (ipvs.SyncDaemons, string) {
		if ds, err := h.SyncDaemons(); err != nil || len(ds) != 0 {
			t.Fatalf("the namespace is not empty: %v, %v", ds, err)
		}
		t.Cleanup(func() {
			for _, r := range []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup} {
				if err := h.StopSyncDaemon(r); err != nil && !errors.Is(err, syscall.ESRCH) {
					t.Errorf("emptying the namespace: %v", err)
				}
			}
		})
		return timed, "sync0"
	})
}

// timedDaemons is the handle, keeping the longest start and stop: how
// long the kernel takes over them goes to the report.
type timedDaemons struct {
	h           *ipvs.Handle
	start, stop time.Duration
}

func (d *timedDaemons) SyncDaemons() ([]ipvs.SyncDaemon, error) { return d.h.SyncDaemons() }

func (d *timedDaemons) StartSyncDaemon(s ipvs.SyncDaemon) error {
	t0 := time.Now()
	defer func() { d.start = max(d.start, time.Since(t0)) }()
	return d.h.StartSyncDaemon(s)
}

func (d *timedDaemons) StopSyncDaemon(s ipvs.SyncState) error {
	t0 := time.Now()
	defer func() { d.stop = max(d.stop, time.Since(t0)) }()
	return d.h.StopSyncDaemon(s)
}

//go:build lab

package syncd

import (
	"errors"
	"syscall"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestSyncDaemonConformance runs the table the fake passes on the host
// against ipvs.Handle and the real kernel. Every case gets the same
// namespace, emptied of daemons after it, rather than one of its own:
// tearing a namespace down holds the kernel's RTNL lock, which starting
// and stopping a daemon also take, and under emulation the teardown of
// the last case can hold it for longer than a netlink reply is awaited.
func TestSyncDaemonConformance(t *testing.T) {
	ns := newSyncNS(t)
	h, err := ipvs.New("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
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
		return h, "sync0"
	})
}

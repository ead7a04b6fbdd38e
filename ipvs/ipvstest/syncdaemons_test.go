package ipvstest

import (
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

func TestFakeSyncDaemonConformance(t *testing.T) {
	RunSyncDaemonConformance(t, func(*testing.T) (ipvs.SyncDaemons, string) { return NewSyncDaemons("sync0"), "sync0" })
}

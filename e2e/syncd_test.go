package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabSyncDaemons runs e2e/guest/syncd in one VM: the sync daemon
// conformance table against the real kernel, ipvs.Handle against the
// guest's ipvsadm, `ipvsd standalone` beside a hand-started daemon and
// `ipvsd cleanup`, and two directors in network namespaces whose
// connections reach the backup's table over the kernel's sync daemon.
func TestLabSyncDaemons(t *testing.T) {
	lab.RunOK(t, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/syncd"}),
		Tools:   []lab.Binary{lab.IPVSD(t)},
		Timeout: 5 * time.Minute,
	})
}

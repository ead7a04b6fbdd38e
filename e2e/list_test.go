package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabList runs e2e/guest/list in the VM: `ipvsd list` against the
// guest's ipvsadm for every listing option, plus owners and drift.
func TestLabList(t *testing.T) {
	// Hundreds of ipvsadm and ipvsd runs: slow on a busy host, so more
	// than the default four minutes.
	bins := lab.BuildTests(t, []string{"./e2e/guest/list"}, "-test.timeout=8m")
	lab.RunOK(t, lab.Config{Run: bins, Tools: []lab.Binary{lab.IPVSD(t)}, Timeout: 9 * time.Minute})
}

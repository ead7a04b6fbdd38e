package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabIPVSKernel runs e2e/guest/ipvskernel in the VM: ipvs.Handle
// against the real kernel, the conformance table shared with the fake,
// and Render against the guest's ipvsadm.
func TestLabIPVSKernel(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/ipvskernel"})
	lab.RunOK(t, lab.Config{Run: bins, Tools: []lab.Binary{lab.IPVSD(t)}, Timeout: 4 * time.Minute})
}

package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabNetlinkKernel runs netlinkutil's guest tests in the VM: the real
// dummy interface and its VIPs, the IPVS sysctls with ip_vs loaded, and
// conntrack clean-up behind a real IPVS UDP service.
func TestLabNetlinkKernel(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/netlinkkernel"})
	lab.RunOK(t, lab.Config{Run: bins, Timeout: 4 * time.Minute})
}

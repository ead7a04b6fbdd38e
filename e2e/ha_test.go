package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabDirectors runs e2e/guest/ha in the VM: BIRD 2 as the router in
// front of two directors running `ipvsd standalone` with BGP, and DR real
// servers, each in its own namespace; held connections through a director
// failing and returning, and through a graceful restart.
func TestLabDirectors(t *testing.T) {
	// Its waits are for BGP sessions and daemons (bounded by minutes), not
	// few-second windows: it can share the machine with the fault tests.
	parallelFaultTest(t)
	args := []string{"-test.timeout=14m", "-test.v"}
	// IPVSD_E2E_HA_RUN narrows the guest tests, as in
	// IPVSD_E2E_HA_RUN=TestFailoverMaglev.
	if run := os.Getenv("IPVSD_E2E_HA_RUN"); run != "" {
		args = append(args, "-test.run="+run)
	}
	lab.RunOK(t, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/ha"}, args...),
		Tools:   []lab.Binary{lab.IPVSD(t)},
		Timeout: 15 * time.Minute,
	})
}

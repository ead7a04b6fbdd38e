package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabSignals runs e2e/guest/signals in the VM: `ipvsd run` blocked on
// an API server that never answers stops on one SIGTERM or SIGINT.
func TestLabSignals(t *testing.T) {
	lab.RunOK(t, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/signals"}),
		Tools:   []lab.Binary{lab.IPVSD(t)},
		Timeout: 8 * time.Minute,
	})
}

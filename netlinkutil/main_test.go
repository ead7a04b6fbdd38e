package netlinkutil

import (
	"os"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// The package's tests include real-kernel ones (kernel_host_test.go) that
// create links and netfilter rules, so the whole binary runs in a private
// network namespace of its own; the fake-based tests do not mind.
func TestMain(m *testing.M) { os.Exit(nettest.RunIsolated(m)) }

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabStandalone runs `ipvsd standalone` and `ipvsd cleanup` in the VM
// against namespaced backends, with the shipped example config.
func TestLabStandalone(t *testing.T) {
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	lab.RunOK(t, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/standalone"}),
		Tools:   []lab.Binary{lab.IPVSD(t)},
		Files:   []lab.File{{GuestPath: "/etc/ipvsd/standalone.yaml", HostPath: filepath.Join(root, "examples", "standalone.yaml")}},
		Timeout: 6 * time.Minute,
	})
}

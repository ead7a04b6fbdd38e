package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabFirewall runs e2e/guest/firewall in the VM: real traffic through
// IPVS and controller/firewall, in both iptables back-ends, next to a
// Calico-like ruleset that must stay untouched.
func TestLabFirewall(t *testing.T) {
	lab.RunOK(t, lab.Config{Run: lab.BuildTests(t, []string{"./e2e/guest/firewall"}), Timeout: 5 * time.Minute})
}

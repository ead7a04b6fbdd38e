package e2e

import (
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabFirewall runs e2e/guest/firewall in the VM: real traffic through
// IPVS and controller/firewall, in both iptables back-ends, next to a
// Calico-like ruleset that must stay untouched.
//
// The package runs three traffic tests in both back-ends: on a loaded
// 2-core machine the emulated CPU needs more than the default 4 minutes.
func TestLabFirewall(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/firewall"}, "-test.timeout=9m")
	lab.RunOK(t, lab.Config{Run: bins, Timeout: 10 * time.Minute})
}

// TestLabFirewallPackagings runs ipvsd standalone on each iptables
// packaging (issue 13): another agent's rules in the back-end the plain
// tools drive, ours must land there only and traffic must flow. One VM per
// packaging, since the names are set when the guest boots.
func TestLabFirewallPackagings(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/packaging"}, "-test.run=^TestPackaging$")
	for _, p := range []lab.Packaging{lab.PackagingDebian, lab.PackagingPlainNFT, lab.PackagingPlainLegacy, lab.PackagingPlainNFTSuffixedLegacy} {
		name := string(p)
		if name == "" {
			name = "debian"
		}
		t.Run(name, func(t *testing.T) {
			lab.RunOK(t, lab.Config{Run: bins, Tools: []lab.Binary{lab.IPVSD(t)}, Packaging: p, Timeout: 5 * time.Minute})
		})
	}
}

// TestLabCleanupWithoutIPVS: `ipvsd cleanup` on a kernel whose IPVS went
// away still removes our chains and sets (issue 13).
func TestLabCleanupWithoutIPVS(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/packaging"}, "-test.run=^TestCleanupWithoutIPVS$")
	lab.RunOK(t, lab.Config{Run: bins, Tools: []lab.Binary{lab.IPVSD(t)}, Timeout: 5 * time.Minute})
}

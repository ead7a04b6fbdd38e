package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabTakeOver runs e2e/guest/takeover in the VM against a real etcd
// and kube-apiserver on the host's loopback, with the real kube-proxy
// (v1.35.4, built by e2e/apiserver/build.sh) shipped as a guest tool: it
// programs the node first, then ipvsd takes the node over while held
// connections keep exchanging, and `ipvsd cleanup --kube-proxy` clears a
// node kube-proxy left.
func TestLabTakeOver(t *testing.T) {
	// Its waits are for kube-proxy's and ipvsd's syncs (tens of seconds,
	// bounded by minutes), not fixed few-second windows: it can share the
	// machine with the fault tests.
	parallelFaultTest(t)
	bins, err := apiserver.EnsureBinaries()
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.Start(t)
	files, err := s.GuestFiles()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.timeout=9m", "-test.v"}
	// IPVSD_E2E_TAKEOVER_RUN narrows the guest tests, as in
	// IPVSD_E2E_TAKEOVER_RUN=TestTakeOver.
	if run := os.Getenv("IPVSD_E2E_TAKEOVER_RUN"); run != "" {
		args = append(args, "-test.run="+run)
	}
	bootWithAPIServer(t, s, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/takeover"}, args...),
		Tools:   []lab.Binary{lab.IPVSD(t), {Name: "kube-proxy", HostPath: bins.KubeProxy}},
		Files:   files,
		Network: true,
		Timeout: 11 * time.Minute,
	})
}

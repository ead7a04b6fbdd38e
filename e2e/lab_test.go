// Package e2e runs ipvsd's tests on a real kernel. The tests here run on
// the host and boot the kernel lab VM; the code under e2e/guest runs inside
// it. They fail (never skip) when the lab cannot be built or booted.
package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabFoundation balances real TCP, UDP and HTTP traffic through an IPVS
// virtual service with moby/ipvs directly, inside the VM.
func TestLabFoundation(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/foundation"})
	lab.RunOK(t, lab.Config{Run: bins, Tools: []lab.Binary{lab.IPVSD(t)}, Timeout: 4 * time.Minute})
}

// TestLabHarnessReportsFailure proves a broken assertion inside the VM is
// a failure on the host: the guest's own message comes back and the exit
// status is non-zero.
func TestLabHarnessReportsFailure(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/mustfail"})
	var console bytes.Buffer
	res, err := lab.Boot(context.Background(), lab.Config{Run: bins, Timeout: 3 * time.Minute}, &console)
	if err != nil {
		t.Fatalf("boot: %v\n%s", err, console.String())
	}
	if res.ExitCode == 0 {
		t.Fatalf("a guest test that must fail was reported as passing:\n%s", console.String())
	}
	for _, want := range []string{"--- FAIL: TestBrokenAssertion", "deliberately broken assertion: 1+1 = 2, want 3"} {
		if !strings.Contains(console.String(), want) {
			t.Errorf("guest output lacks %q:\n%s", want, console.String())
		}
	}
	t.Logf("guest failure reported as exit status %d in %s", res.ExitCode, res.Wall.Round(time.Millisecond))
}

// TestLabHarnessKillsHungGuest proves a guest that never finishes is killed
// at the timeout and counts as a failure.
func TestLabHarnessKillsHungGuest(t *testing.T) {
	var console bytes.Buffer
	start := time.Now()
	// Long enough that the guest boots and runs the script on a loaded
	// host (15 s was not, once), short enough to keep make test quick.
	res, err := lab.Boot(context.Background(), lab.Config{Script: "echo hanging; sleep 3600", Timeout: 45 * time.Second}, &console)
	if err == nil || !res.TimedOut || res.ExitCode != -1 {
		t.Fatalf("hung guest: err=%v result=%+v\n%s", err, res, console.String())
	}
	if !strings.Contains(console.String(), "hanging") {
		t.Errorf("the guest never ran the script:\n%s", console.String())
	}
	if d := time.Since(start); d > 3*time.Minute {
		t.Errorf("killing the hung VM took %s", d)
	}
}

// TestLabReconciler runs reconciler.Reconciler against the real kernel.
func TestLabReconciler(t *testing.T) {
	bins := lab.BuildTests(t, []string{"./e2e/guest/reconciler"})
	lab.RunOK(t, lab.Config{Run: bins, Timeout: 5 * time.Minute})
}

package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// faultsEnv passes the knobs of the fault tests through to the guest:
// FAULTS_SEED replays a run's kill moments; FAULTS_SERVICES and
// FAULTS_KILLS shrink the kill test for a quick look.
func faultsEnv() map[string]string {
	env := map[string]string{}
	for _, k := range []string{"FAULTS_SEED", "FAULTS_SERVICES", "FAULTS_KILLS"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	return env
}

// TestLabFaultsKill kills `ipvsd standalone` five times during a cold sync
// of 10,000 x 10 in the VM and then requires one clean start to leave
// exactly the desired table, the foreign services and a true record
// (e2e/guest/faults).
func TestLabFaultsKill(t *testing.T) {
	parallelFaultTest(t)
	lab.RunOK(t, lab.Config{
		Run:      lab.BuildTests(t, []string{"./e2e/guest/faults"}, "-test.run=^TestKillDuringColdSync$", "-test.timeout=50m"),
		Tools:    []lab.Binary{lab.IPVSD(t)},
		Env:      faultsEnv(),
		MemoryMB: 4096,
		Timeout:  52 * time.Minute,
	})
}

// TestLabFaultsFlush flushes the IPVS table under a running `ipvsd
// standalone` and requires the next full resync to repair it and leave
// alone what another program added meanwhile.
func TestLabFaultsFlush(t *testing.T) {
	parallelFaultTest(t)
	lab.RunOK(t, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/faults"}, "-test.run=^TestFlushRepairedAtResync$", "-test.timeout=8m"),
		Tools:   []lab.Binary{lab.IPVSD(t)},
		Timeout: 9 * time.Minute,
	})
}

// parallelFaultTest runs a fault test (or the take-over test) beside the
// other fault tests, after every other lab test of the package: they take
// minutes each, mostly waiting on a cold sync, and have no fixed waits a
// second VM could make fail, so two at a time keep make test's wall time
// down. The other lab
// tests, with their few-second waits, run one VM at a time before them.
func parallelFaultTest(t *testing.T) {
	t.Parallel()
}

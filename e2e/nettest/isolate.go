package nettest

import (
	"fmt"
	"os"
	"os/exec"
)

const isolatedEnv = "IPVSD_NETTEST_ISOLATED"

// RunIsolated runs a test binary's tests in a network namespace of their
// own, so host-side tests that program addresses, iptables or ipsets never
// touch the host's real network state. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(nettest.RunIsolated(m)) }
//
// The first invocation re-executes the binary under `unshare --net`; the
// re-executed one runs the tests. It needs root, and fails (never skips)
// without it.
func RunIsolated(m interface{ Run() int }) int {
	if os.Getenv(isolatedEnv) == "1" {
		return m.Run()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "FAIL: these tests create network namespaces and need root")
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: finding the test binary: %v\n", err)
		return 1
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), isolatedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "FAIL: re-running the tests in a fresh network namespace: %v\n", err)
		return 1
	}
	return 0
}

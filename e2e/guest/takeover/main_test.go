//go:build lab

package takeover

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// The VM's root namespace is the node "lab"; pods and an outside client
// hang off it by veths, as in e2e/guest/kube.
const (
	nodeName    = "lab"
	nodeIP      = "10.0.2.15"
	clusterCIDR = "10.244.0.0/16"
	testNS      = "takeover"
	echoPort    = 9000
	healthzAddr = "127.0.0.1:10256"
)

// output runs a command and returns its output and error, for polls.
func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

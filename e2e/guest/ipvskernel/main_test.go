//go:build lab

package ipvskernel

import (
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

var nsCount atomic.Int32

// kernelNS is a fresh network namespace, so its IPVS table starts empty,
// with a Handle on it; both go away with t.
type kernelNS struct {
	ns *nettest.NS
	h  *ipvs.Handle
}

func newKernelNS(t *testing.T) *kernelNS {
	t.Helper()
	ns := nettest.NewNS(t, fmt.Sprintf("ipvsk%d", nsCount.Add(1)))
	h, err := ipvs.New("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return &kernelNS{ns: ns, h: h}
}

// ipvsadm runs the guest's ipvsadm in the namespace and returns stdout.
func (k *kernelNS) ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("/sbin/ip", append([]string{"netns", "exec", k.ns.Name, "/usr/sbin/ipvsadm"}, args...)...)
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("ipvsadm %v: %v\n%s", args, err, stderr)
	}
	return string(out)
}

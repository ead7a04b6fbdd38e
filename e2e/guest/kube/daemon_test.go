//go:build lab

package kube

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

const (
	healthzAddr = "127.0.0.1:10256"
	healthzURL  = "http://" + healthzAddr + "/healthz"
)

// ipvsdArgs is the `ipvsd run` command line: kube-proxy's flags, with
// kube-proxy's own identity (system:kube-proxy) from the shipped
// kubeconfig, so RBAC gives it exactly what kube-proxy gets.
func ipvsdArgs() []string {
	return []string{
		"run",
		"--kubeconfig=" + apiserver.GuestProxyKubeconfig,
		"--hostname-override=" + nodeName,
		"--cluster-cidr=" + clusterCIDR,
		"--healthz-bind-address=" + healthzAddr,
		"--metrics-bind-address=127.0.0.1:10249",
	}
}

// daemon is a running `ipvsd run`.
type daemon struct {
	exited chan struct{} // closed when the process ended
	err    error         // its exit status, once exited is closed
	log    string
	pid    int
}

// check fails t at once when the daemon has died: waiting for it to
// program something would only burn the VM's time.
func (d *daemon) check(t testing.TB) {
	t.Helper()
	select {
	case <-d.exited:
		b, _ := os.ReadFile(d.log)
		t.Fatalf("ipvsd run exited: %v\n%s", d.err, tail(string(b), 60))
	default:
	}
}

// startIPVSD runs `ipvsd run` (from the guest PATH, where lab.IPVSD put
// it) until t's cleanup, which stops it with SIGTERM and shows its log
// when t failed. It returns once /healthz answers, which ipvsd does after
// its first successful sync. The node object must exist first. extra
// flags go after the usual ones (and win over a --config file).
func startIPVSD(t *testing.T, extra ...string) *daemon {
	t.Helper()
	logf, err := os.CreateTemp("", "ipvsd-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ipvsd", append(ipvsdArgs(), extra...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ipvsd run: %v", err)
	}
	d := &daemon{exited: make(chan struct{}), log: logf.Name(), pid: cmd.Process.Pid}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
			t.Errorf("ipvsd run exited during the tests: %v", d.err)
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
				if d.err != nil {
					t.Errorf("ipvsd run on SIGTERM: %v", d.err)
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-d.exited
				t.Error("ipvsd run ignored SIGTERM for 20 s")
			}
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(d.log); err == nil {
				t.Logf("ipvsd log:\n%s", tail(string(b), 200))
			}
		}
	})
	t.Logf("ipvsd run healthy after %s", d.waitHealthy(t, 60*time.Second).Round(time.Millisecond))
	return d
}

// waitHealthy waits until /healthz answers 200, failing t if the daemon
// exits or timeout passes first, and returns how long it took.
func (d *daemon) waitHealthy(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	guestutil.Eventually(t, timeout, func() string {
		d.check(t)
		if _, err := nodeGet(healthzURL); err != nil {
			return "ipvsd never became healthy: " + err.Error()
		}
		return ""
	})
	return time.Since(start)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// apiReady reports whether the API server answers /readyz.
func apiReady(c kubernetes.Interface) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil
}

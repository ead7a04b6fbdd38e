//go:build lab

package kubefaults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
)

const (
	healthzAddr = "127.0.0.1:10256"
	healthzURL  = "http://" + healthzAddr + "/healthz"
	link        = "ipvs0"
)

// daemon is one `ipvsd run` process.
type daemon struct {
	cmd    *exec.Cmd
	log    string
	start  time.Time
	exited chan struct{}
	err    error
	// seen is when logged first found its message, from start.
	seen time.Duration
}

// informersSynced is what ipvsd run logs once its informers have listed
// everything, just before it programs the kernel.
const informersSynced = "informers synced; programming"

// logged reports whether the daemon's log holds msg, and notes when it
// was first seen.
func (d *daemon) logged(msg string) bool {
	b, err := os.ReadFile(d.log)
	if err != nil || !strings.Contains(string(b), msg) {
		return false
	}
	if d.seen == 0 {
		d.seen = time.Since(d.start)
	}
	return true
}

// startDaemon starts `ipvsd run` with kube-proxy's identity and flags; its
// output goes to a log file of its own, shown when the test fails.
func startDaemon(t *testing.T, name string) *daemon {
	t.Helper()
	logf, err := os.Create("/tmp/" + name + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ipvsd", "run",
		"--kubeconfig="+apiserver.GuestProxyKubeconfig,
		"--hostname-override=lab",
		"--cluster-cidr=10.244.0.0/16",
		"--healthz-bind-address="+healthzAddr,
		"--metrics-bind-address=127.0.0.1:10249")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ipvsd run: %v", err)
	}
	d := &daemon{cmd: cmd, log: logf.Name(), start: time.Now(), exited: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop(t, syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("%s log (tail):\n%s", name, tail(string(b), 80))
		}
	})
	return d
}

// alive fails t when the daemon ended by itself: a crash is a finding,
// not a kill of ours.
func (d *daemon) alive(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		b, _ := os.ReadFile(d.log)
		t.Fatalf("ipvsd run exited by itself: %v\n%s", d.err, tail(string(b), 80))
	default:
	}
}

// stop sends sig and waits for the process to end; a no-op once it has.
func (d *daemon) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Errorf("signalling ipvsd: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("ipvsd ignored %v for 30 s", sig)
	}
}

// healthy reports whether /healthz answers 200, which ipvsd does once a
// sync of the whole state has succeeded.
func healthy() bool {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(healthzURL)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func adminClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", apiserver.GuestAdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apiReady reports whether the API server answers /readyz.
func apiReady(c kubernetes.Interface) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil
}

// waitFor polls cond until it returns "" or timeout passes; it returns the
// time it took. It waits for the system to get somewhere, it asserts no
// duration.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		msg := cond()
		if msg == "" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func since(d *daemon) string { return fmt.Sprint(time.Since(d.start).Round(time.Millisecond)) }

//go:build lab

package takeover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

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

// client is a clientset from one of the kubeconfigs the host shipped.
func client(t testing.TB, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", kubeconfig, err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client from %s: %v", kubeconfig, err)
	}
	return c
}

// eventually polls cond every 200 ms until it returns "" (success) or the
// timeout passes, then fails with cond's last complaint.
func eventually(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after %s: %s", timeout, msg)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// run runs a command and returns its output, failing t on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// output runs a command and returns its output and error, for polls.
func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Package guestutil holds the small helpers the guest-side lab tests share:
// polling for a condition, running a command, setting a sysctl for one
// test, and a clientset from a kubeconfig the host shipped.
package guestutil

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Eventually polls cond every 200 ms until it returns "" (success) or the
// timeout passes, then fails t with cond's last complaint.
func Eventually(t testing.TB, timeout time.Duration, cond func() string) {
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

// Run runs a command and returns its output, failing t on error.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SetSysctl writes value to the sysctl name (its path under /proc/sys, as
// net/ipv4/ip_forward) and puts the old value back in t.Cleanup.
func SetSysctl(t testing.TB, name, value string) {
	t.Helper()
	path := filepath.Join("/proc/sys", name)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Errorf("restoring %s: %v", name, err)
		}
	})
}

// Client is a clientset from a kubeconfig file.
func Client(t testing.TB, kubeconfig string) kubernetes.Interface {
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

// EnsureNode registers the Node name with address ip, unless it exists,
// and the namespace ns.
func EnsureNode(t testing.TB, c kubernetes.Interface, name, ip, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
		if _, err := apiserver.CreateNode(ctx, c, name, nil, ip); err != nil {
			t.Fatal(err)
		}
	}
	if err := apiserver.EnsureNamespace(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
}

// Pods are the Kubernetes tests' peers: two backend pods (10.244.1.2 and
// 10.244.2.2), a client pod (10.244.9.2) and a client outside the cluster
// (192.168.50.2), each in its own namespace, with forwarding and IPVS's
// conntrack on as a node proxy needs them.
type Pods struct {
	Be1, Be2, Pod, Outside *nettest.Peer
}

// NewPods creates the peers of Pods.
func NewPods(t *testing.T) Pods {
	t.Helper()
	for path, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":   "1",
		"/proc/sys/net/ipv4/vs/conntrack": "1",
	} {
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Pods{
		Be1:     nettest.NewPeer(t, "be1", "10.244.1.2", "10.244.1.1"),
		Be2:     nettest.NewPeer(t, "be2", "10.244.2.2", "10.244.2.1"),
		Pod:     nettest.NewPeer(t, "pod", "10.244.9.2", "10.244.9.1"),
		Outside: nettest.NewPeer(t, "outside", "192.168.50.2", "192.168.50.1"),
	}
}

// pollClient is for polls: a short timeout, so a daemon that accepts and
// never answers fails the poll instead of hanging it, and no kept-alive
// connection to count in a daemon's figures.
var pollClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// HTTPOK reports whether GET url answers 200 (a health or profiler
// endpoint a poll waits on).
func HTTPOK(url string) bool {
	resp, err := pollClient.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

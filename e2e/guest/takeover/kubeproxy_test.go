//go:build lab

package takeover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// proxyConfig is the KubeProxyConfiguration both proxies read: kube-proxy
// first, then ipvsd, from the same file, as in a migration.
func proxyConfig(t *testing.T) string {
	t.Helper()
	return proxyConfigMode(t, "ipvs")
}

// proxyConfigMode is proxyConfig for kube-proxy's mode (kube-proxy reads
// its mode from the file, ignoring --proxy-mode when --config is given).
func proxyConfigMode(t *testing.T, mode string) string {
	t.Helper()
	body := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: %s
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
clusterCIDR: %s
healthzBindAddress: %s
metricsBindAddress: 127.0.0.1:10249
`, mode, apiserver.GuestProxyKubeconfig, nodeName, clusterCIDR, healthzAddr)
	path := filepath.Join(t.TempDir(), "kube-proxy-"+mode+".yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startKubeProxy runs the real kube-proxy (IPVS mode, shipped as a lab
// tool) on config until it has programmed want ("TCP 10.96.0.5:9000",
// with dests real servers each).
func startKubeProxy(t *testing.T, config string, dests int, want ...string) *guestutil.Proc {
	t.Helper()
	p := guestutil.Start(t, "kube-proxy", "--config="+config, "--proxy-mode=ipvs", "--v=2")
	begin := time.Now()
	guestutil.Eventually(t, 3*time.Minute, func() string {
		p.Check(t)
		table, err := output("ipvsadm", "-Ln")
		if err != nil {
			return err.Error()
		}
		for _, w := range want {
			if got := realServers(table, w); got != dests {
				return fmt.Sprintf("kube-proxy has not programmed %s with %d real servers (%d):\n%s\n%s", w, dests, got, table, p.LogTail(30))
			}
		}
		return ""
	})
	t.Logf("kube-proxy programmed %v after %s", want, time.Since(begin).Round(time.Millisecond))
	return p
}

// klogError matches klog's error lines ("E1201 14:36:44.027806 ...").
var klogError = regexp.MustCompile(`^E\d{4} `)

// kubeProxyErrors are kube-proxy's error lines.
func kubeProxyErrors(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if klogError.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// realServers counts the real servers of the service named by header
// ("TCP 10.96.0.5:9000") in ipvsadm -Ln text; -1 when there is none.
func realServers(table, header string) int {
	n, in := -1, false
	for _, l := range strings.Split(table, "\n") {
		if !strings.HasPrefix(l, " ") {
			f := strings.Fields(l)
			in = len(f) >= 2 && f[0]+" "+f[1] == header
			if in {
				n = 0
			}
			continue
		}
		if in && strings.Contains(l, "->") && !strings.Contains(l, "RemoteAddress") {
			n++
		}
	}
	return n
}

// network is the test's pods: two echo backends on this node, a client
// pod and a client outside the cluster.
type network struct {
	be1, be2, pod, outside *nettest.Peer
}

func newNetwork(t *testing.T) *network {
	t.Helper()
	p := guestutil.NewPods(t)
	n := &network{be1: p.Be1, be2: p.Be2, pod: p.Pod, outside: p.Outside}
	n.be1.ServeTCP(t, echoPort, "be1")
	n.be2.ServeTCP(t, echoPort, "be2")
	return n
}

// echoService creates a Service (ClusterIP, or NodePort when nodePort)
// with port 9000 to both backends, and returns it as stored.
func echoService(t *testing.T, c kubernetes.Interface, n *network, name string, nodePort bool) *corev1.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := apiserver.NewService(testNS, name, apiserver.TCPPort("echo", echoPort, echoPort))
	if nodePort {
		svc.Spec.Type = corev1.ServiceTypeNodePort
	}
	svc, err := apiserver.CreateService(ctx, c, svc)
	if err != nil {
		t.Fatal(err)
	}
	eps := []apiserver.Endpoint{{IP: n.be1.Addr.String(), Node: nodeName}, {IP: n.be2.Addr.String(), Node: nodeName}}
	if _, err := apiserver.CreateEndpointSlice(ctx, c, apiserver.NewEndpointSlice(svc, name+"-1", eps, apiserver.SlicePort("echo", echoPort))); err != nil {
		t.Fatal(err)
	}
	return svc
}

// deleteService deletes a Service of the test namespace (its
// EndpointSlice goes with the namespace; kube-proxy and ipvsd program
// nothing for a slice without its Service).
func deleteService(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.CoreV1().Services(testNS).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

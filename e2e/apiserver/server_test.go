package apiserver

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The whole host side against the real binaries: objects created, the
// kube-proxy identity limited by RBAC, both kubeconfigs usable, and every
// object still there after a kube-apiserver restart.
func TestServer(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := EnsureNamespace(ctx, s.Admin, "e2e"); err != nil {
		t.Fatal(err)
	}
	svc := NewService("e2e", "web", TCPPort("http", 80, 8080))
	svc.Spec.Type = corev1.ServiceTypeNodePort
	svc, err := CreateService(ctx, s.Admin, svc)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip == nil || !ip.Mask(net.CIDRMask(16, 32)).Equal(net.ParseIP("10.96.0.0")) {
		t.Errorf("ClusterIP %q is not in %s", svc.Spec.ClusterIP, ServiceCIDR)
	}
	if np := svc.Spec.Ports[0].NodePort; np < 30000 || np > 32767 {
		t.Errorf("NodePort %d not allocated from the default range", np)
	}
	if len(svc.Spec.ClusterIPs) != 1 {
		t.Errorf("a Service that did not ask for dual-stack got ClusterIPs %v", svc.Spec.ClusterIPs)
	}
	dual := NewService("e2e", "dual", TCPPort("http", 80, 8080))
	dual.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack)
	if dual, err = CreateService(ctx, s.Admin, dual); err != nil {
		t.Fatal(err)
	}
	if ips := dual.Spec.ClusterIPs; len(ips) != 2 || !inCIDR(ips[0], ServiceCIDR) || !inCIDR(ips[1], ServiceCIDR6) {
		t.Errorf("RequireDualStack Service: ClusterIPs %v, want one in %s and one in %s", ips, ServiceCIDR, ServiceCIDR6)
	}
	slice := NewEndpointSlice(svc, "web-1", []Endpoint{{IP: "10.244.1.2", Node: "lab"}, {IP: "10.244.2.2", Terminating: true}}, SlicePort("http", 8080))
	if _, err := CreateEndpointSlice(ctx, s.Admin, slice); err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateEndpoints(ctx, s.Admin, "e2e", "web-1", []Endpoint{{IP: "10.244.1.3"}}); err != nil {
		t.Fatal(err)
	}
	node, err := CreateNode(ctx, s.Admin, "lab", map[string]string{corev1.LabelTopologyZone: "z1"}, "10.0.2.15")
	if err != nil {
		t.Fatal(err)
	}
	if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != "10.0.2.15" {
		t.Errorf("node addresses %v", node.Status.Addresses)
	}

	// ipvsd's identity reads what kube-proxy reads and writes nothing else.
	proxy := clientFromKubeconfig(t, s.HostProxyKubeconfig)
	if _, err := proxy.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("kube-proxy identity cannot list EndpointSlices: %v", err)
	}
	if _, err := proxy.CoreV1().Nodes().Get(ctx, "lab", metav1.GetOptions{}); err != nil {
		t.Errorf("kube-proxy identity cannot get its Node: %v", err)
	}
	_, err = proxy.CoreV1().Services("e2e").Create(ctx, NewService("e2e", "nope", TCPPort("x", 1, 1)), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("kube-proxy identity creating a Service: %v, want Forbidden (is RBAC on?)", err)
	}

	// The certificate must serve the guest's address too.
	block, _ := pem.Decode(mustRead(t, s.pki.CertFile))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname(GuestHostAddr); err != nil {
		t.Errorf("serving certificate: %v", err)
	}

	// Restart: etcd keeps everything; clients carry on after it.
	if err := s.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CoreV1().Services("e2e").Get(ctx, "web", metav1.GetOptions{}); err == nil {
		t.Error("the API server still answers after StopAPIServer")
	}
	if err := s.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver restarted in %s", s.apiStart.Round(time.Millisecond))
	got, err := s.Admin.DiscoveryV1().EndpointSlices("e2e").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Endpoints) != 1 || got.Endpoints[0].Addresses[0] != "10.244.1.3" {
		t.Errorf("after restart the slice has %v", got.Endpoints)
	}
}

func clientFromKubeconfig(t *testing.T, path string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func inCIDR(ip, cidr string) bool {
	_, n, err := net.ParseCIDR(cidr)
	return err == nil && n.Contains(net.ParseIP(ip))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

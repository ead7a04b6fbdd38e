package informer

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

type fakeHealth struct {
	mu      sync.Mutex
	targets map[uint16]kube.HealthCheckTarget
}

func (f *fakeHealth) Update(t map[uint16]kube.HealthCheckTarget) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = t
	return nil
}

func (f *fakeHealth) get() map[uint16]kube.HealthCheckTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.targets
}

func testSlice(name string, eps ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "test"}}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		addr, local := strings.CutSuffix(e, "@")
		node := "node-b"
		if local {
			node = "node-a"
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr}, NodeName: ptr.To(node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

// kernelLines renders the fake kernel's virtual servers, one line each.
func kernelLines(k *ipvstest.Fake) []string {
	dump, _ := k.Dump()
	var out []string
	for _, s := range dump {
		l := s.Key.String() + " " + s.Scheduler + " ->"
		ds := slices.Clone(s.Destinations)
		slices.SortFunc(ds, func(a, b ipvs.DestinationState) int { return a.Address.Compare(b.Address) })
		for _, d := range ds {
			l += fmt.Sprintf(" %s", d.DestKey)
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSourceProgramsFromInformers(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: "node-a"},
			{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
		}},
	}
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Annotations: map[string]string{kube.AnnotationScheduler: "bogus"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.1", ClusterIPs: []string{"10.96.0.1"},
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 32000,
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.1"}}}},
	}
	other := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other", Labels: map[string]string{labelServiceProxyName: "someone-else"}},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.9", ClusterIPs: []string{"10.96.0.9"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	client := fake.NewClientset(node, web, other, testSlice("web-1", "10.0.0.1", "10.0.0.2@"))

	kernel := ipvstest.New()
	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "record.json")},
		reconciler.Deps{Kernel: kernel, Addresses: reconcilertest.NewAddresses(), Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	fw, health, events := &dataplanetest.Firewall{}, &fakeHealth{}, record.NewFakeRecorder(10)
	prog, err := dataplane.New(dataplane.Config{}, dataplane.Deps{IPVS: rec,
		OpenFirewall: func(context.Context) (dataplane.Firewall, error) { return fw, nil }, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{NodeName: "node-a", Translate: kube.Options{Scheduler: "wlc"}, MarkMin: 100, MarkMax: 100},
		Deps{Client: client, Trigger: prog.Trigger, Recorder: events, Health: health, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, src, prog)

	want := []string{
		"FWM 100 wlc -> 10.0.0.2:8080",
		"TCP 10.96.0.1:80 wlc -> 10.0.0.1:8080 10.0.0.2:8080",
		"TCP 192.168.1.10:30080 wlc -> 10.0.0.1:8080 10.0.0.2:8080",
		"TCP 203.0.113.1:80 wlc -> 10.0.0.1:8080 10.0.0.2:8080",
	}
	waitFor(t, "the service in the kernel", func() bool { return cmp.Equal(want, kernelLines(kernel)) })
	if got := <-events.Events; !strings.Contains(got, "Warning InvalidScheduler") || !strings.Contains(got, `"bogus"`) {
		t.Errorf("event %q, want a Warning InvalidScheduler", got)
	}
	// The health-check ports are updated once the sync that programmed
	// the kernel ends (Programmed), a moment after the kernel shows it.
	wantHC := map[uint16]kube.HealthCheckTarget{32000: {Service: "ns/web", LocalEndpoints: 1}}
	waitFor(t, "the health-check port", func() bool { return cmp.Equal(wantHC, health.get()) })
	d := fw.Last()
	if !slices.Equal(d.NodeAddresses, []netip.Addr{netip.MustParseAddr("192.168.1.10")}) {
		t.Errorf("node addresses %v", d.NodeAddresses)
	}
	if diff := cmp.Diff([]netip.Prefix{netip.MustParsePrefix("192.168.1.10/32")}, d.NodePortCIDRs,
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("node-port CIDRs (-want +got):\n%s", diff)
	}
	if n := len(d.Services); n != 3 {
		t.Errorf("firewall has %d services, want 3", n)
	}

	// An endpoint change re-programs the service; the problem already
	// reported is not reported again.
	ctx2 := context.Background()
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx2, testSlice("web-1", "10.0.0.1"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"FWM 100 wlc ->",
		"TCP 10.96.0.1:80 wlc -> 10.0.0.1:8080",
		"TCP 192.168.1.10:30080 wlc -> 10.0.0.1:8080",
		"TCP 203.0.113.1:80 wlc -> 10.0.0.1:8080",
	}
	// The removed real server drains (weight 0) before it is deleted.
	waitFor(t, "the endpoint change", func() bool { return cmp.Equal(want, kernelLines(kernel)) || drained(kernel) })
	select {
	case e := <-events.Events:
		t.Errorf("unexpected event %q", e)
	default:
	}

	// Deleting the service removes all of it.
	if err := client.CoreV1().Services("ns").Delete(ctx2, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the service to go", func() bool { return len(kernelLines(kernel)) == 0 })
	waitFor(t, "the health check to go", func() bool { return len(health.get()) == 0 })
}

// drained reports whether every real server left in the kernel is either
// 10.0.0.1 or draining at weight 0.
func drained(k *ipvstest.Fake) bool {
	dump, _ := k.Dump()
	for _, s := range dump {
		for _, d := range s.Destinations {
			if d.Address.String() != "10.0.0.1" && d.Weight != 0 {
				return false
			}
		}
	}
	return len(dump) == 4
}

// runLoop starts src and prog's loop on it until the test ends.
func runLoop(t *testing.T, src *Source, prog *dataplane.Programmer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if err := src.Start(ctx); err != nil {
			done <- err
			return
		}
		done <- prog.Run(ctx, src)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// startSource builds a source on cfg (default scheduler rr) and deps (a
// no-op trigger and the test's logger unless set) and starts its
// informers until the test ends.
func startSource(t *testing.T, cfg Config, deps Deps) *Source {
	t.Helper()
	if cfg.Translate.Scheduler == "" {
		cfg.Translate.Scheduler = "rr"
	}
	if deps.Trigger == nil {
		deps.Trigger = func() {}
	}
	if deps.Log == nil {
		deps.Log = zaptest.NewLogger(t)
	}
	src, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return src
}

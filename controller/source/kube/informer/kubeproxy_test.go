package informer

import (
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestKubeProxyMetrics: kube-proxy's series exist with its labels and
// count what happened: one Service and one EndpointSlice change, synced
// (nothing pending), a Service whose internal traffic policy is Local
// with endpoints only on another node.
func TestKubeProxyMetrics(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}}},
	}
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.96.0.1", ClusterIPs: []string{"10.96.0.1"},
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal),
		},
	}
	client := fake.NewClientset(node, web, testSlice("web-1", "10.0.0.1"))
	kernel := ipvstest.New()
	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "record.json")},
		reconciler.Deps{Kernel: kernel, Addresses: reconcilertest.NewAddresses(), Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	dm := dataplane.NewMetrics(dataplane.StatsConfig{}, nil)
	prog, err := dataplane.New(dataplane.Config{}, dataplane.Deps{IPVS: rec, Metrics: dm, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{NodeName: "node-a", Translate: kube.Options{Scheduler: "rr"}},
		Deps{Client: client, Trigger: prog.Trigger, Metrics: NewMetrics(dm.Registry), Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, src, prog)

	var got map[string]float64
	waitFor(t, "a synced sync", func() bool {
		got = dataplanetest.Scrape(t, dm.MetricsHandler(), "kubeproxy_")
		return got[`kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}`] > 0
	})
	for series, want := range map[string]float64{
		"kubeproxy_sync_proxy_rules_service_changes_total":                                                1,
		"kubeproxy_sync_proxy_rules_endpoint_changes_total":                                               1,
		"kubeproxy_sync_proxy_rules_service_changes_pending":                                              0,
		`kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="internal"}`: 1,
		`kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="external"}`: 0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %t), want %v", series, v, ok, want)
		}
	}
	for _, series := range []string{
		`kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv4"}`,
		`kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family="IPv4"}`,
		`kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv4"}`,
	} {
		if got[series] <= 0 {
			t.Errorf("%s = %v, want > 0", series, got[series])
		}
	}
	if _, ok := got[`kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv6"}`]; ok {
		t.Error("IPv6 series on a node without an IPv6 address")
	}
}

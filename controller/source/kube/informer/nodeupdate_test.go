package informer

import (
	"context"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestSyncTranslatesWhatChanged: an update of the Node that changes
// nothing translation reads (a kubelet's status heartbeat, a label)
// translates no Service; a new zone translates every one; an
// EndpointSlice change translates its Service only, hands the firewall
// no service's part and does not list the host's addresses (which dumps
// every VIP); a new Service hands the firewall its own part alone; a
// periodic full resync reads the Node and the host's addresses again and
// hands the firewall every part, but translates no Service, since nothing
// changed.
func TestSyncTranslatesWhatChanged(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}}},
	}
	svc := func(name, ip string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		}
	}
	client := fake.NewClientset(node, svc("web", "10.96.0.1"), svc("api", "10.96.0.2"), svc("db", "10.96.0.3"),
		testSlice("web-1", "10.0.0.1", "10.0.0.2"))
	var triggers, hostReads atomic.Int32
	host := func() ([]netip.Addr, error) {
		hostReads.Add(1)
		return []netip.Addr{netip.MustParseAddr("192.168.1.10")}, nil
	}
	src := startSource(t, Config{NodeName: "node-a", NodePortCIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}},
		Deps{Client: client, Trigger: func() { triggers.Add(1) }, HostAddresses: host})
	if _, err := src.Changes(ctx, false); err != nil {
		t.Fatal(err)
	}

	updateNode := func(change func(*corev1.Node)) { updateNodeAndWait(t, client, &triggers, change) }
	for _, step := range []struct {
		name       string
		change     func()
		resync     bool // a periodic full resync
		translated int
		resynced   bool
		fwParts    int
		hostReads  int32
	}{
		{"a heartbeat and a label", func() {
			updateNode(func(n *corev1.Node) {
				n.Labels["example.com/role"] = "edge"
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
			})
		}, false, 0, false, 0, 1},
		{"a new zone", func() {
			updateNode(func(n *corev1.Node) { n.Labels[corev1.LabelTopologyZone] = "zone-b" })
		}, false, 3, true, 3, 1},
		{"one endpoint", func() {
			s := testSlice("web-1", "10.0.0.1", "10.0.0.3")
			if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the slice update in the cache", func() bool {
				eps, err := src.inf.serviceSlices("ns/web")
				return err == nil && len(eps) == 1 && eps[0].Endpoints[1].Addresses[0] == "10.0.0.3"
			})
			// The handler runs after the cache has the update: wait for
			// its mark too, or the sync may come first.
			waitFor(t, "the slice update handled", func() bool {
				src.mu.Lock()
				defer src.mu.Unlock()
				return src.dirty["ns/web"]
			})
		}, false, 1, false, 0, 0},
		{"a new Service", func() {
			if _, err := client.CoreV1().Services("ns").Create(ctx, svc("new", "10.96.0.4"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the new Service in the cache", func() bool { return slices.Contains(src.inf.serviceKeys(), "ns/new") })
			waitFor(t, "the new Service handled", func() bool {
				src.mu.Lock()
				defer src.mu.Unlock()
				return src.dirty["ns/new"]
			})
		}, false, 1, false, 1, 0},
		{"a periodic full resync", func() {}, true, 0, false, 4, 1},
		{"a periodic full resync after a new zone", func() {
			updateNode(func(n *corev1.Node) { n.Labels[corev1.LabelTopologyZone] = "zone-c" })
		}, true, 4, true, 4, 1},
	} {
		before, readsBefore := src.state.Translated, hostReads.Load()
		step.change()
		ch, err := src.Changes(ctx, step.resync)
		if err != nil {
			t.Fatal(err)
		}
		if n := src.state.Translated - before; n != step.translated || ch.Resynced != step.resynced || len(ch.Firewall.Parts) != step.fwParts {
			t.Errorf("%s: %d services translated (resynced %t, %d firewall parts), want %d (%t, %d)",
				step.name, n, ch.Resynced, len(ch.Firewall.Parts), step.translated, step.resynced, step.fwParts)
		}
		if n := hostReads.Load() - readsBefore; n != step.hostReads {
			t.Errorf("%s: the host's addresses read %d times, want %d", step.name, n, step.hostReads)
		}
	}
}

// updateNodeAndWait changes node-a and waits for the sync it asks for:
// the cache keeps only what translation reads, so an update that changes
// nothing of it cannot be waited for in the cache.
func updateNodeAndWait(t *testing.T, client *fake.Clientset, triggers *atomic.Int32, change func(*corev1.Node)) {
	t.Helper()
	ctx := context.Background()
	n, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(n)
	asked := triggers.Load()
	if _, err := client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sync the node update asks for", func() bool { return triggers.Load() > asked })
}

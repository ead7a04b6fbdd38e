package informer

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ipvsd/ipvsd/controller/firewall"
)

// TestNodePortAddresses: which host addresses serve node ports, for each
// form of --nodeport-addresses (kube-proxy's keywords resolved to CIDRs
// and the primary flag by the configuration).
func TestNodePortAddresses(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name    string
		cidrs   []netip.Prefix
		primary bool
		bind    string
		want    []string
		wantFW  []string
	}{
		{"none set: primary", nil, false, "", []string{"192.168.1.10"}, []string{"192.168.1.10/32"}},
		{"bindAddress replaces the primary of its family", nil, true, "172.16.0.1", []string{"172.16.0.1"}, []string{"172.16.0.1/32"}},
		{"bindAddress of the other family adds one", nil, true, "fd00::5", []string{"192.168.1.10", "fd00::5"}, []string{"192.168.1.10/32", "fd00::5/128"}},
		{"bindAddress 0.0.0.0 is no override", nil, true, "0.0.0.0", []string{"192.168.1.10"}, []string{"192.168.1.10/32"}},
		{"primary", nil, true, "", []string{"192.168.1.10"}, []string{"192.168.1.10/32"}},
		{"a CIDR", []netip.Prefix{p("172.16.0.0/12")}, false, "", []string{"172.16.0.1"}, []string{"172.16.0.0/12"}},
		{"primary and a CIDR", []netip.Prefix{p("172.16.0.0/12")}, true, "", []string{"172.16.0.1", "192.168.1.10"}, []string{"172.16.0.0/12", "192.168.1.10/32"}},
		{"all: no link-local", []netip.Prefix{p("0.0.0.0/0"), p("::/0")}, false, "", []string{"172.16.0.1", "192.168.1.10", "fd00::5"}, []string{"0.0.0.0/0", "::/0"}},
		{"primary inside a CIDR is not repeated", []netip.Prefix{p("192.168.0.0/16")}, true, "", []string{"192.168.1.10"}, []string{"192.168.0.0/16"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
				Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}}},
			}
			host := func() ([]netip.Addr, error) {
				return []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("172.16.0.1"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fd00::5")}, nil
			}
			var bind netip.Addr
			if tc.bind != "" {
				bind = netip.MustParseAddr(tc.bind)
			}
			src := startSource(t, Config{NodeName: "node-a", NodePortCIDRs: tc.cidrs, NodePortPrimary: tc.primary, BindAddress: bind},
				Deps{Client: fake.NewClientset(node), HostAddresses: host})
			n, err := src.readNode()
			if err != nil {
				t.Fatal(err)
			}
			src.node = n
			var got []string
			for _, a := range n.NodePortAddresses {
				got = append(got, a.String())
			}
			var gotFW []string
			for _, c := range src.firewallBase().NodePortCIDRs {
				gotFW = append(gotFW, c.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("node-port addresses (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantFW, gotFW); diff != "" {
				t.Errorf("firewall node-port CIDRs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLocalByNodePodCIDRs: detectLocalMode NodeCIDR tells pods by this
// Node's podCIDRs, which replace the cluster CIDRs in the firewall.
func TestLocalByNodePodCIDRs(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Spec:       corev1.NodeSpec{PodCIDRs: []string{"10.244.3.0/24", "fd00:244:3::/64"}},
	}
	for _, byNode := range []bool{false, true} {
		src := startSource(t, Config{NodeName: "node-a", LocalByNodePodCIDRs: byNode,
			Firewall: firewall.Desired{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}}},
			Deps{Client: fake.NewClientset(node)})
		if _, err := src.readNode(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range src.firewallBase().ClusterCIDRs {
			got = append(got, p.String())
		}
		want := []string{"10.244.0.0/16"}
		if byNode {
			want = []string{"10.244.3.0/24", "fd00:244:3::/64"}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("by node %t: local CIDRs (-want +got):\n%s", byNode, diff)
		}
	}
}

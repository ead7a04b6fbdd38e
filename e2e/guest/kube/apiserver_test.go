//go:build lab

package kube

import (
	"context"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

// TestSmokeObjectsVisible: from inside the VM, through qemu's user network
// to the host's loopback and TLS verified against the shipped CA, both
// identities see the Service, EndpointSlice and Node the host created.
func TestSmokeObjectsVisible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wantIP := os.Getenv("IPVSD_E2E_SMOKE_CLUSTERIP")
	if wantIP == "" {
		t.Fatal("IPVSD_E2E_SMOKE_CLUSTERIP is not set by the host test")
	}
	for _, kc := range []string{apiserver.GuestAdminKubeconfig, apiserver.GuestProxyKubeconfig} {
		c := guestutil.Client(t, kc)
		svcs, err := c.CoreV1().Services("smoke").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: listing services: %v", kc, err)
		}
		if len(svcs.Items) != 1 || svcs.Items[0].Name != "web" || svcs.Items[0].Spec.ClusterIP != wantIP {
			t.Errorf("%s: services in smoke: %+v, want web at %s", kc, svcs.Items, wantIP)
		}
		slices, err := c.DiscoveryV1().EndpointSlices("smoke").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: listing endpointslices: %v", kc, err)
		}
		if len(slices.Items) != 1 || len(slices.Items[0].Endpoints) != 1 || slices.Items[0].Endpoints[0].Addresses[0] != "10.244.1.2" {
			t.Errorf("%s: endpointslices in smoke: %+v", kc, slices.Items)
		}
		node, err := c.CoreV1().Nodes().Get(ctx, "lab", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: getting node lab: %v", kc, err)
		}
		if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != "10.0.2.15" {
			t.Errorf("%s: node lab addresses %v", kc, node.Status.Addresses)
		}
		t.Logf("%s: service web %s, slice %s, node %s %v", kc, svcs.Items[0].Spec.ClusterIP,
			slices.Items[0].Name, node.Name, node.Status.Addresses)
	}
}

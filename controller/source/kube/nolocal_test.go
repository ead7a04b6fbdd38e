package kube

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestNoLocal: a Local traffic policy that finds endpoints, but none on
// this node, is recorded once per policy and family, for kube-proxy's
// no_local_endpoints metric; with no endpoints at all, or a local one,
// nothing is.
func TestNoLocal(t *testing.T) {
	itpLocal := func(s *corev1.Service) {
		s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	}
	twoPorts := func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	}
	for _, tc := range []struct {
		name   string
		svc    *corev1.Service
		slices []*discoveryv1.EndpointSlice
		want   []NoLocal
	}{
		{"cluster policies", service(nodePort), []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")}, nil},
		{"internal Local, remote only", service(itpLocal, twoPorts), []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")}, []NoLocal{{"internal", ipvs.IPv4}}},
		{"internal Local, a local one", service(itpLocal), []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1", "10.0.0.2@")}, nil},
		{"internal Local, no endpoints", service(itpLocal), nil, nil},
		{"external Local, remote only", service(nodePort, etpLocal), []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")}, []NoLocal{{"external", ipvs.IPv4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := Translate(tc.svc, tc.slices, &testNode, &testOpts, fixedMarks(0x1234))
			if diff := cmp.Diff(tc.want, st.NoLocal); diff != "" {
				t.Errorf("NoLocal (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoLocalCounts: the State's counts follow services as they are set,
// changed and removed.
func TestNoLocalCounts(t *testing.T) {
	s := NewState()
	internal := NoLocal{"internal", ipvs.IPv4}
	var u desired.Update
	s.Set("ns/a", &ServiceState{NoLocal: []NoLocal{internal}}, &u)
	s.Set("ns/b", &ServiceState{NoLocal: []NoLocal{internal}}, &u)
	if got := s.NoLocalCounts(); got[internal] != 2 {
		t.Errorf("two services: %v", got)
	}
	s.Set("ns/a", &ServiceState{}, &u)
	s.Set("ns/b", nil, &u)
	if got := s.NoLocalCounts(); len(got) != 0 {
		t.Errorf("none left: %v", got)
	}
}

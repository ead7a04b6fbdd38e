package informer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipvsd/ipvsd/controller/source/kube"
)

func TestTransformDropsWhatIsNeverRead(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", ResourceVersion: "7",
			Labels:        map[string]string{corev1.LabelTopologyZone: "z", "other": "x"},
			Annotations:   map[string]string{"big": "x"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady}},
			Images:     []corev1.ContainerImage{{Names: []string{"busybox"}}},
		},
	}
	sl := &slimmer{}
	got, _ := sl.transform(node)
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", ResourceVersion: "7", Labels: map[string]string{corev1.LabelTopologyZone: "z"}},
		Status:     corev1.NodeStatus{Addresses: node.Status.Addresses},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("node (-want +got):\n%s", diff)
	}

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web",
			Annotations:   map[string]string{kube.AnnotationScheduler: "sh", "kubectl.kubernetes.io/last-applied-configuration": "{...}"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.1",
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal)},
	}
	got, _ = sl.transform(svc)
	wantSvc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Annotations: map[string]string{kube.AnnotationScheduler: "sh"}},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.1", InternalTrafficPolicy: svc.Spec.InternalTrafficPolicy},
	}
	if diff := cmp.Diff(wantSvc, got); diff != "" {
		t.Errorf("service (-want +got):\n%s", diff)
	}

	s := testSlice("web-1", "10.0.0.1")
	s.Endpoints[0].TargetRef = &corev1.ObjectReference{Kind: "Pod", Name: "web-abc"}
	s.Endpoints[0].Hostname = ptr.To("web-abc")
	got, _ = sl.transform(s)
	c, ok := got.(*cachedSlice)
	if !ok {
		t.Fatalf("slice cached as %T, want *cachedSlice", got)
	}
	if c.service != "ns/web" {
		t.Errorf("slice cached for service %q, want ns/web", c.service)
	}
	want2 := testSlice("web-1", "10.0.0.1")
	want2.ManagedFields, want2.Labels = nil, nil
	if diff := cmp.Diff(want2, c.slice()); diff != "" {
		t.Errorf("slice (-want +got):\n%s", diff)
	}
}

// TestCachedSliceRoundTrip: what translation reads of a slice comes back
// from the cache as it went in, each condition unset, true or false, an
// endpoint without an address or with several, hints and the trigger-time
// annotation (an empty one too) included.
func TestCachedSliceRoundTrip(t *testing.T) {
	hints := &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "z1"}}}
	for _, tc := range []struct {
		name string
		edit func(*discoveryv1.EndpointSlice)
	}{
		{"plain", func(*discoveryv1.EndpointSlice) {}},
		{"conditions", func(s *discoveryv1.EndpointSlice) {
			s.Endpoints[0].Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
			s.Endpoints[1].Conditions = discoveryv1.EndpointConditions{}
		}},
		{"no address, several", func(s *discoveryv1.EndpointSlice) {
			s.Endpoints[0].Addresses = nil
			s.Endpoints[1].Addresses = []string{"10.0.0.2", "10.0.0.9"}
		}},
		{"hints, no node", func(s *discoveryv1.EndpointSlice) {
			s.Endpoints[0].Hints, s.Endpoints[1].NodeName = hints, nil
		}},
		{"trigger time", func(s *discoveryv1.EndpointSlice) {
			s.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: "2026-12-03T09:00:00Z", "other": "x"}
		}},
		{"empty trigger time, IPv6, identity", func(s *discoveryv1.EndpointSlice) {
			s.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: ""}
			s.AddressType, s.UID, s.ResourceVersion = discoveryv1.AddressTypeIPv6, "u-1", "42"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testSlice("web-1", "10.0.0.1@", "10.0.0.2")
			tc.edit(in)
			got, _ := (&slimmer{}).transform(in)
			back := got.(*cachedSlice).slice()
			want := in.DeepCopy()
			want.Labels, want.ManagedFields = nil, nil
			if v, ok := in.Annotations[corev1.EndpointsLastChangeTriggerTime]; ok {
				want.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: v}
			}
			for i := range want.Endpoints {
				if len(want.Endpoints[i].Addresses) > 1 {
					want.Endpoints[i].Addresses = want.Endpoints[i].Addresses[:1] // the first is all anyone reads
				}
			}
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if m := got.(*cachedSlice).GetObjectMeta(); m.GetNamespace() != "ns" || m.GetName() != "web-1" || m.GetResourceVersion() != in.ResourceVersion {
				t.Errorf("object meta %s/%s@%s, want ns/web-1@%s", m.GetNamespace(), m.GetName(), m.GetResourceVersion(), in.ResourceVersion)
			}
		})
	}
}

// TestTransformSharesWhatEndpointsRepeat: endpoints on one node share one
// copy of its name, and their conditions point at shared flags, with every
// value as it was.
func TestTransformSharesWhatEndpointsRepeat(t *testing.T) {
	sl := &slimmer{}
	a, b := testSlice("web-1", "10.0.0.1@", "10.0.0.2"), testSlice("web-2", "10.0.0.3@")
	a.Endpoints[1].Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
	gotA, _ := sl.transform(a)
	gotB, _ := sl.transform(b)
	ea, eb := gotA.(*cachedSlice).slice().Endpoints, gotB.(*cachedSlice).slice().Endpoints
	if ea[0].NodeName != eb[0].NodeName {
		t.Errorf("two endpoints on node-a hold two copies of its name")
	}
	if *ea[0].NodeName != "node-a" || *ea[1].NodeName != "node-b" {
		t.Errorf("node names %q, %q; want node-a, node-b", *ea[0].NodeName, *ea[1].NodeName)
	}
	if ea[0].Conditions.Ready != eb[0].Conditions.Ready {
		t.Errorf("two ready endpoints hold two copies of the flag")
	}
	if diff := cmp.Diff(a.Endpoints[1].Conditions, ea[1].Conditions); diff != "" {
		t.Errorf("conditions changed in the sharing (-in +out):\n%s", diff)
	}
	if ea[0].Conditions.Serving != nil {
		t.Errorf("an unset condition became set: %v", *ea[0].Conditions.Serving)
	}
}

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
	want2 := testSlice("web-1", "10.0.0.1")
	want2.ManagedFields = nil
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("slice (-want +got):\n%s", diff)
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
	ea, eb := gotA.(*discoveryv1.EndpointSlice).Endpoints, gotB.(*discoveryv1.EndpointSlice).Endpoints
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

package informer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
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
	got, _ := transform(node)
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
	got, _ = transform(svc)
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
	got, _ = transform(s)
	want2 := testSlice("web-1", "10.0.0.1")
	want2.ManagedFields = nil
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("slice (-want +got):\n%s", diff)
	}
}

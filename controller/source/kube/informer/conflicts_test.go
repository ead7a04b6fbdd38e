package informer

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/ipvsd/ipvsd/ipvs"
)

// TestConflictEvents: a virtual server someone else holds gets one Warning
// Event on the Service that wants it while the conflict lasts, and a new
// one if it comes back.
func TestConflictEvents(t *testing.T) {
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", ClusterIPs: []string{"10.96.0.1"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	events := record.NewFakeRecorder(10)
	src := startSource(t, Config{NodeName: "node-a"}, Deps{Client: fake.NewClientset(web, testSlice("web-1", "10.0.0.1")), Recorder: events})
	if _, err := src.Changes(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	k := ipvs.Key{Family: ipvs.IPv4, Address: mustAddr("10.96.0.1"), Protocol: ipvs.TCP, Port: 80}
	for range 3 {
		src.Conflicts([]ipvs.Key{k})
	}
	src.Conflicts(nil)
	src.Conflicts([]ipvs.Key{k})
	close(events.Events)
	var got []string
	for e := range events.Events {
		got = append(got, e)
	}
	if len(got) != 2 {
		t.Fatalf("events %q, want two (the conflict, then its return)", got)
	}
	for _, e := range got {
		if !strings.HasPrefix(e, "Warning ForeignVirtualServer") || !strings.Contains(e, "TCP 10.96.0.1:80") {
			t.Errorf("event %q", e)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

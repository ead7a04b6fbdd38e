package informer

import (
	"errors"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// refusingSink fails every call with err.
type refusingSink struct{ err error }

func (r refusingSink) Create(*corev1.Event) (*corev1.Event, error)        { return nil, r.err }
func (r refusingSink) Update(*corev1.Event) (*corev1.Event, error)        { return nil, r.err }
func (r refusingSink) Patch(*corev1.Event, []byte) (*corev1.Event, error) { return nil, r.err }

func TestEventSinkSaysWhatIsForbidden(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New(`User "u" cannot create resource "events"`))
	for _, c := range []struct {
		name string
		err  error
		want []string // messages logged, in order
	}{
		{"forbidden: once per verb", forbidden, []string{
			"the API server forbids ipvsd to create events: grant create and patch on events to its ClusterRole (manifests/rbac.yaml); until then its Warning Events are lost",
			"the API server forbids ipvsd to patch events: grant create and patch on events to its ClusterRole (manifests/rbac.yaml); until then its Warning Events are lost",
		}},
		{"another error: client-go's log alone", apierrors.NewInternalError(errors.New("etcd")), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			core, logs := observer.New(zap.ErrorLevel)
			sink := EventSink(refusingSink{c.err}, zap.New(core))
			ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1"}, Reason: "InvalidPort"}
			for range 3 {
				if _, err := sink.Create(ev); !errors.Is(err, c.err) {
					t.Errorf("Create: %v, want the sink's %v", err, c.err)
				}
			}
			if _, err := sink.Patch(ev, nil); !errors.Is(err, c.err) {
				t.Errorf("Patch: %v, want the sink's %v", err, c.err)
			}
			var got []string
			for _, e := range logs.All() {
				got = append(got, e.Message)
				if ns := e.ContextMap()["namespace"]; ns != "ns1" {
					t.Errorf("logged namespace %v, want ns1", ns)
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("logged %q, want %q", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("log %d: %q, want %q", i, got[i], c.want[i])
				}
			}
		})
	}
}

package informer

import (
	"sync"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
)

// EventSink passes Events to sink and, the first time the API server
// refuses one of a verb for want of permission (RBAC), says so in ipvsd's
// own words, naming what to grant. client-go's recorder logs every refused
// Event ("Server rejected event (will not retry!)") but not that the role
// lacks a verb, and a Warning Event that never arrives is otherwise
// unseen: the objects ipvsd cannot program would go unreported.
func EventSink(sink record.EventSink, log *zap.Logger) record.EventSink {
	return &eventSink{sink: sink, log: log}
}

type eventSink struct {
	sink   record.EventSink
	log    *zap.Logger
	warned sync.Map // verb -> true, once refused
}

func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	out, err := s.sink.Create(e)
	s.refused("create", e, err)
	return out, err
}

func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	out, err := s.sink.Update(e)
	s.refused("update", e, err)
	return out, err
}

func (s *eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	out, err := s.sink.Patch(e, data)
	s.refused("patch", e, err)
	return out, err
}

func (s *eventSink) refused(verb string, e *corev1.Event, err error) {
	if !apierrors.IsForbidden(err) {
		return
	}
	if _, done := s.warned.LoadOrStore(verb, true); done {
		return
	}
	s.log.Error("the API server forbids ipvsd to "+verb+
		" events: grant create and patch on events to its ClusterRole (manifests/rbac.yaml); until then its Warning Events are lost",
		zap.String("namespace", e.Namespace), zap.String("reason", e.Reason), zap.Error(err))
}

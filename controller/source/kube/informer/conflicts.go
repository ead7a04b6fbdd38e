package informer

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/ipvs"
)

// ReasonForeignVirtualServer is the Event reason of a Service whose virtual
// server someone else created in the kernel (another proxy, a hand-made
// ipvsadm entry): ipvsd leaves it alone, and the Service is not served on
// that address and port until it is gone.
const ReasonForeignVirtualServer = "ForeignVirtualServer"

// Conflicts implements dataplane.ConflictReporter: a Warning Event on the
// wanting Service for each conflict when it appears; gone ones are
// forgotten, so one that returns is reported again.
func (s *Source) Conflicts(keys []ipvs.Key) {
	now := make(map[ipvs.Key]bool, len(keys))
	for _, k := range keys {
		now[k] = true
		if s.conflicts[k] {
			continue
		}
		name := s.state.Owner(k)
		if name == "" || s.deps.Recorder == nil {
			continue
		}
		ref := kube.ServiceObject(name)
		s.deps.Recorder.Eventf(&ref, corev1.EventTypeWarning, ReasonForeignVirtualServer,
			"virtual server %s exists in the kernel and was not created by ipvsd; it is left alone, and this port is not served there", k)
	}
	s.conflicts = now
}

package kube

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Annotations choosing a service's IPVS scheduler and its flags.
const (
	AnnotationScheduler      = "ipvsd.io/scheduler"
	AnnotationSchedulerFlags = "ipvsd.io/scheduler-flags"
)

// Schedulers are the IPVS schedulers Linux ships. A name outside the list
// would fail in the kernel with a bare ENOENT, after the service was
// accepted; checking here turns it into an Event on the Service.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}

// schedulerFlags maps the annotation's flag names to ours, with the
// scheduler that gives each a meaning ("" for any): the kernel reuses the
// bits, so sh-port on mh would silently mean mh-port.
var schedulerFlags = map[string]struct {
	flag  ipvs.Flags
	sched string
}{
	"sh-fallback": {ipvs.FlagSHFallback, "sh"},
	"sh-port":     {ipvs.FlagSHPort, "sh"},
	"mh-fallback": {ipvs.FlagMHFallback, "mh"},
	"mh-port":     {ipvs.FlagMHPort, "mh"},
	"ops":         {ipvs.FlagOnePacket, ""},
}

// scheduling sets the base virtual server every port of the service
// shares: scheduler, flags and ClientIP persistence. An invalid annotation
// is reported and the default used instead, so a typo degrades the
// balancing of one service and breaks nothing.
func (t *translator) scheduling() {
	s := t.svc
	ref := svcRef(s)
	t.base.Scheduler = t.opts.Scheduler
	sched, hasSched := s.Annotations[AnnotationScheduler]
	sched = strings.TrimSpace(sched)
	if hasSched {
		if slices.Contains(Schedulers, sched) {
			t.base.Scheduler = sched
		} else {
			t.problem(ref, ReasonInvalidScheduler, "annotation %s: unknown IPVS scheduler %q; using %q", AnnotationScheduler, sched, t.opts.Scheduler)
		}
	}
	if v, ok := s.Annotations[AnnotationSchedulerFlags]; ok {
		flags, err := parseFlags(v, t.base.Scheduler)
		if err != nil {
			t.problem(ref, ReasonInvalidScheduler, "annotation %s: %v; using no flags", AnnotationSchedulerFlags, err)
		} else {
			t.base.Flags = flags
		}
	}
	if s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		timeout := int32(DefaultSessionAffinityTimeout)
		if c := s.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
			timeout = *c.ClientIP.TimeoutSeconds
		}
		t.base.Flags |= ipvs.FlagPersistent
		t.base.Timeout = uint32(timeout)
	}
}

// parseFlags reads a comma-separated flag list for scheduler sched.
func parseFlags(v, sched string) (ipvs.Flags, error) {
	var f ipvs.Flags
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		sf, ok := schedulerFlags[name]
		switch {
		case !ok:
			return 0, fmt.Errorf("unknown flag %q", name)
		case sf.sched != "" && sf.sched != sched:
			return 0, fmt.Errorf("flag %q needs scheduler %s, not %s", name, sf.sched, sched)
		}
		f |= sf.flag
	}
	return f, nil
}

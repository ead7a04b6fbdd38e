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
		if slices.Contains(ipvs.Schedulers, sched) {
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
		flag, need, ok := ipvs.SchedulerFlag(name)
		switch {
		case !ok:
			return 0, fmt.Errorf("unknown flag %q", name)
		case need != "" && need != sched:
			return 0, fmt.Errorf("flag %q needs scheduler %s, not %s", name, need, sched)
		}
		f |= flag
	}
	return f, nil
}

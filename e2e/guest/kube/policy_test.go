//go:build lab

package kube

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// internalTrafficLocal: with internalTrafficPolicy Local, traffic from a
// pod on this node reaches only this node's endpoints; a service with no
// endpoint here gets none, and its traffic must not leak to the remote one
// (the Kubernetes documentation: it is dropped).
func (e *env) internalTrafficLocal(t *testing.T) {
	itpLocal := func(s *corev1.Service) {
		p := corev1.ServiceInternalTrafficPolicyLocal
		s.Spec.InternalTrafficPolicy = &p
	}
	svc := e.service(t, "itplocal", itpLocal, local(e.n.be1), remote(e.n.be2))
	vip := hostPort(svc.Spec.ClusterIP, 80)
	if block := e.programmed(t, vip, 1); !strings.Contains(block, e.n.be1.Addr.String()+":") {
		t.Errorf("the one real server is not be1 (this node's):\n%s", block)
	}
	if seen := backendsSeen(t, e.n.pod.NS, vip, 10, e.n.pod.Addr.String()); len(seen) != 1 || seen["be1"] != 10 {
		t.Errorf("from a pod: backends %v, want only be1", seen)
	}

	none := e.service(t, "itpnone", itpLocal, remote(e.n.be2))
	noneVIP := hostPort(none.Spec.ClusterIP, 80)
	e.programmed(t, noneVIP, 0)
	if w, err := whoFrom(e.n.pod.NS, noneVIP); err == nil {
		t.Errorf("no local endpoint, yet a pod reached %s via %s", w.backend, noneVIP)
	}
}

// externalIPs: a Service's external IP is reachable from a client outside
// the cluster, routed to the node, and reaches every endpoint (policy
// Cluster); pods reach it too.
func (e *env) externalIPs(t *testing.T) {
	const extIP = "192.168.100.20"
	e.service(t, "extip", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{extIP} },
		local(e.n.be1), remote(e.n.be2))
	ext := hostPort(extIP, 80)
	e.programmed(t, ext, 2)
	if seen := backendsSeen(t, e.n.outside.NS, ext, 10, ""); len(seen) != 2 {
		t.Errorf("from outside via %s: backends %v, want both\n%s", ext, seen, firewallState(t))
	}
	if seen := backendsSeen(t, e.n.pod.NS, ext, 10, e.n.pod.Addr.String()); len(seen) != 2 {
		t.Errorf("from a pod via %s: backends %v, want both", ext, seen)
	}
}

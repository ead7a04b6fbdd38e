//go:build lab

package kube

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// topologyStep is one state of the node's zone and the endpoints' zone
// hints, and the endpoints kube-proxy 1.35 would use from this node
// (pkg/proxy/topology.go): the ones hinted for the node's zone when every
// ready endpoint has a zone hint and at least one is for this zone, else
// all of them.
type topologyStep struct {
	name     string
	zone     string   // this node's topology.kubernetes.io/zone ("" none)
	be1, be2 []string // each endpoint's hints.forZones
	want     []string // backends that take new connections
}

// topologySteps alternate between the two outcomes, so that no step can
// pass on what the step before it programmed.
var topologySteps = []topologyStep{
	{"SameZoneOnly", "zone-a", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"HintsGone", "zone-a", nil, nil, []string{"be1", "be2"}},
	{"HintsBack", "zone-a", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"OneEndpointUnhinted", "zone-a", []string{"zone-a"}, nil, []string{"be1", "be2"}},
	{"HintsBackAgain", "zone-a", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"NoEndpointForThisZone", "zone-c", []string{"zone-a"}, []string{"zone-b"}, []string{"be1", "be2"}},
	{"BackInZoneA", "zone-a", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"NodeWithoutZone", "", []string{"zone-a"}, []string{"zone-b"}, []string{"be1", "be2"}},
}

// topologyPreferClose: a Service with trafficDistribution PreferClose and
// one with the older service.kubernetes.io/topology-mode annotation, each
// with two endpoints in other nodes' zones, are programmed with the
// endpoints their zone hints give this node, step by step as the hints and
// the node's zone label change, and pods' traffic lands only on those.
// (As in kube-proxy, the hints decide, not the field or the annotation,
// which only ask the EndpointSlice controller to write them.)
func (e *env) topologyPreferClose(t *testing.T) {
	t.Cleanup(func() { setNodeZone(t, e, "") })
	prefer := corev1.ServiceTrafficDistributionPreferClose
	svcs := []*corev1.Service{
		e.service(t, "cov-topo", func(s *corev1.Service) { s.Spec.TrafficDistribution = &prefer }),
		e.service(t, "cov-topo-auto", func(s *corev1.Service) {
			s.Annotations = map[string]string{corev1.AnnotationTopologyMode: "Auto"}
		}),
	}
	zone := "(unset)"
	for _, st := range topologySteps {
		if st.zone != zone {
			setNodeZone(t, e, st.zone)
			zone = st.zone
		}
		for _, svc := range svcs {
			e.setTopologyEndpoints(t, svc.Name+"-1", st)
		}
		for _, svc := range svcs {
			vip := hostPort(svc.Spec.ClusterIP, 80)
			want := e.destinations(st.want)
			start := time.Now()
			guestutil.Eventually(t, 60*time.Second, func() string {
				e.d.check(t)
				return takesConnections(st.name+": ipvsd", virtualServer(t, "TCP", vip), want)
			})
			took := time.Since(start)
			seen := backendsSeen(t, e.n.pod.NS, vip, 6, e.n.pod.Addr.String())
			if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, st.want) {
				t.Errorf("%s: %s (%s) from a pod reached %v, want %v\n%s", st.name, svc.Name, vip, seen, st.want, ipvsadm(t))
			}
			t.Logf("%s: %s: real servers (weight) %v after %s; 6 requests reached %v", st.name, svc.Name,
				realServerWeights(virtualServer(t, "TCP", vip)), took.Round(time.Millisecond), seen)
		}
	}
}

// setTopologyEndpoints writes be1 and be2, of zones zone-a and zone-b on
// other nodes, with the step's hints.
func (e *env) setTopologyEndpoints(t *testing.T, slice string, st topologyStep) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eps := []apiserver.Endpoint{
		{IP: e.n.be1.Addr.String(), Node: "node-a", Zone: "zone-a", ForZones: st.be1},
		{IP: e.n.be2.Addr.String(), Node: "node-b", Zone: "zone-b", ForZones: st.be2},
	}
	if _, err := apiserver.UpdateEndpoints(ctx, e.c, testNS, slice, eps); err != nil {
		t.Fatal(err)
	}
}

// destinations are the backends' real-server addresses.
func (e *env) destinations(backends []string) map[string]bool {
	out := map[string]bool{}
	for _, name := range backends {
		be := map[string]*nettest.Peer{"be1": e.n.be1, "be2": e.n.be2}[name]
		out[hostPort(be.Addr.String(), webPort)] = true
	}
	return out
}

// takesConnections complains unless exactly want are real servers of the
// `ipvsadm -Ln` block with a weight above 0. An endpoint that left may
// stay a while at weight 0, draining, as ipvsd (and kube-proxy's IPVS
// mode) keep a removed TCP real server until its connections are gone; it
// gets no new connection.
func takesConnections(who, block string, want map[string]bool) string {
	got := map[string]bool{}
	for dest, w := range realServerWeights(block) {
		if w > 0 {
			got[dest] = true
		}
	}
	if block == "" || !maps.Equal(got, want) {
		return fmt.Sprintf("%s: new connections do not go to exactly %v:\n%s", who, slices.Sorted(maps.Keys(want)), block)
	}
	return ""
}

// realServerWeights reads the real servers and their weights from an
// `ipvsadm -Ln` block ("  -> ADDR:PORT FORWARD WEIGHT ACTIVE INACTIVE").
func realServerWeights(block string) map[string]int {
	out := map[string]int{}
	for _, l := range strings.Split(block, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || f[0] != "->" {
			continue
		}
		if w, err := strconv.Atoi(f[3]); err == nil {
			out[f[1]] = w
		}
	}
	return out
}

// setNodeZone sets (or, for "", removes) this node's zone label, as a
// cloud's node controller would.
func setNodeZone(t *testing.T, e *env, zone string) {
	t.Helper()
	e.updateNode(t, func(n *corev1.Node) {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		if zone == "" {
			delete(n.Labels, corev1.LabelTopologyZone)
		} else {
			n.Labels[corev1.LabelTopologyZone] = zone
		}
	})
}

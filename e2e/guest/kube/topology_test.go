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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
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

var topologySteps = []topologyStep{
	{"SameZoneOnly", "zone-a", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"HintsGone", "zone-a", nil, nil, []string{"be1", "be2"}},
	{"OneEndpointUnhinted", "zone-a", []string{"zone-a"}, nil, []string{"be1", "be2"}},
	{"HintForTwoZones", "zone-a", []string{"zone-a"}, []string{"zone-b", "zone-a"}, []string{"be1", "be2"}},
	{"HintsBack", "zone-a", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"NoEndpointForThisZone", "zone-c", []string{"zone-a"}, []string{"zone-b"}, []string{"be1", "be2"}},
	{"NodeWithoutZone", "", []string{"zone-a"}, []string{"zone-b"}, []string{"be1", "be2"}},
}

// topologyPreferClose: a Service with trafficDistribution PreferClose and
// one with the older service.kubernetes.io/topology-mode annotation, each
// with two endpoints in other nodes' zones, are programmed with the
// endpoints their zone hints give this node, step by step as the hints and
// the node's zone label change; pods' traffic lands only on those. (As in
// kube-proxy, the hints decide, not the field or the annotation, which
// only ask the EndpointSlice controller to write them.)
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
			e.takingConnections(t, vip, st)
			seen := backendsSeen(t, e.n.pod.NS, vip, 10, e.n.pod.Addr.String())
			if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, st.want) {
				t.Errorf("%s: %s (%s) from a pod reached %v, want %v\n%s", st.name, svc.Name, vip, seen, st.want, ipvsadm(t))
			}
			t.Logf("%s: %s: real servers (weight) %v; 10 requests reached %v", st.name, svc.Name, realServerWeights(virtualServer(t, "TCP", vip)), seen)
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

// takingConnections waits until exactly the step's backends are real
// servers of vip with a weight above 0. An endpoint that left may stay a
// while at weight 0, draining, as ipvsd (and kube-proxy's IPVS mode) keep
// a removed TCP real server until its connections are gone; it gets no
// new connection.
func (e *env) takingConnections(t *testing.T, vip string, st topologyStep) {
	t.Helper()
	want := map[string]bool{}
	for _, name := range st.want {
		want[hostPort(e.n.peer(name).Addr.String(), webPort)] = true
	}
	eventually(t, 60*time.Second, func() string {
		e.d.check(t)
		block := virtualServer(t, "TCP", vip)
		got := map[string]bool{}
		for dest, w := range realServerWeights(block) {
			if w > 0 {
				got[dest] = true
			}
		}
		if block == "" || !maps.Equal(got, want) {
			return fmt.Sprintf("%s: %s does not take connections on exactly %v:\n%s", st.name, vip, st.want, block)
		}
		return ""
	})
}

func (n *labNet) peer(name string) *nettest.Peer {
	switch name {
	case "be1":
		return n.be1
	case "be2":
		return n.be2
	}
	panic("no backend " + name)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := e.c.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if zone == "" {
		delete(n.Labels, corev1.LabelTopologyZone)
	} else {
		n.Labels[corev1.LabelTopologyZone] = zone
	}
	if _, err := e.c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

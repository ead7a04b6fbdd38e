package kube

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// DefaultSessionAffinityTimeout is Kubernetes' default ClientIP affinity
// timeout (3 hours), used when the Service does not say.
const DefaultSessionAffinityTimeout = 10800

// Node is what translation needs to know of this node.
type Node struct {
	Name string
	// Zone is the node's topology.kubernetes.io/zone label.
	Zone string
	// NodePortAddresses are the node addresses that accept node ports,
	// resolved by the caller from --nodeport-addresses (by default the
	// node's primary address of each family).
	NodePortAddresses []netip.Addr
}

// Options are the daemon-wide settings translation applies.
type Options struct {
	// Scheduler is the default IPVS scheduler (--ipvs-scheduler).
	Scheduler string
	// DrainTimeout is given to every virtual server (0: the reconciler's
	// default).
	DrainTimeout time.Duration
}

// Marker hands out the firewall marks of externalTrafficPolicy Local
// virtual servers: the same key gets the same mark for as long as it is
// used. Zero means none is left.
type Marker interface {
	Mark(key string) uint32
}

// Problem is an object (or part of one) that was not programmed, with why;
// the caller reports it as a Warning Event on the object.
type Problem struct {
	Object  corev1.ObjectReference
	Reason  string
	Message string
}

// Event reasons of Problems.
const (
	ReasonInvalidScheduler = "InvalidScheduler"
	ReasonInvalidAddress   = "InvalidAddress"
	ReasonInvalidPort      = "InvalidPort"
	ReasonUnsupported      = "UnsupportedProtocol"
	ReasonNoFirewallMark   = "NoFirewallMark"
)

// HealthCheck is a service's healthCheckNodePort and how many ready
// endpoints this node has for it.
type HealthCheck struct {
	Port           uint16
	LocalEndpoints int
}

// ServiceState is the translation of one Service.
type ServiceState struct {
	VirtualServers []desired.VirtualServer
	Firewall       []firewall.VirtualServer
	// Addresses are the VIPs to bind (cluster, external and load-balancer
	// IPs), sorted and distinct. Node addresses are never listed.
	Addresses []netip.Addr
	Hairpins  []firewall.Hairpin
	// HealthCheck is nil unless the service has a healthCheckNodePort.
	HealthCheck *HealthCheck
	Problems    []Problem
	// TriggerTime is the latest endpoints.kubernetes.io/last-change-trigger-time
	// of the service's EndpointSlices: when the change they carry began,
	// for the network programming latency metric. Zero if none says.
	TriggerTime time.Time
	// NoLocal says, for kube-proxy's no_local_endpoints metric, in which
	// family this service has endpoints but none on this node while a
	// traffic policy is Local (each policy and family once).
	NoLocal []NoLocal
	// handed: State.Set handed the real servers to the reconciler and
	// dropped them from st; realServers counts them.
	handed      bool
	realServers int
}

// NoLocal is a traffic policy ("internal" or "external") that is Local and
// finds no local endpoint in one family.
type NoLocal struct {
	Policy string
	Family ipvs.Family
}

// Translate computes the desired state of one Service from it, its
// EndpointSlices (any order; slices of other services must not be passed),
// this node and the daemon's options. It never fails: what cannot be
// programmed is left out and listed in Problems.
func Translate(svc *corev1.Service, eps []*discoveryv1.EndpointSlice, node *Node, opts *Options, marks Marker) ServiceState {
	var st ServiceState
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		return st
	}
	t := &translator{svc: svc, node: node, opts: opts, marks: marks, st: &st}
	t.scheduling()
	t.parseAddresses()
	set := t.parseSlices(eps)
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		proto, ok := protocol(p.Protocol)
		if !ok {
			t.problem(svcRef(svc), ReasonUnsupported, "port %s: protocol %s is not supported by IPVS", portLabel(p), p.Protocol)
			continue
		}
		for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
			if len(t.clusterIPs[f]) == 0 {
				continue
			}
			t.port(p, proto, f, set.forPort(f, p.Name, p.Protocol))
		}
	}
	t.healthCheck(set)
	slices.SortFunc(st.Addresses, netip.Addr.Compare)
	st.Addresses = slices.Compact(st.Addresses)
	slices.SortFunc(st.Hairpins, cmpHairpin)
	st.Hairpins = slices.Compact(st.Hairpins)
	return st
}

type translator struct {
	svc   *corev1.Service
	node  *Node
	opts  *Options
	marks Marker
	st    *ServiceState

	base       ipvs.Service // scheduler, flags, persistence
	clusterIPs map[ipvs.Family][]netip.Addr
	external   []extAddr
	ranges     []netip.Prefix
}

// extAddr is an address reached from outside the cluster.
type extAddr struct {
	addr netip.Addr
	kind firewall.Kind
}

func (t *translator) problem(ref corev1.ObjectReference, reason, format string, args ...any) {
	t.st.Problems = append(t.st.Problems, Problem{Object: ref, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// parseAddresses reads the service's cluster, external and load-balancer
// IPs and source ranges, reporting the ones that cannot be used.
func (t *translator) parseAddresses() {
	s := t.svc
	ref := svcRef(s)
	t.clusterIPs = map[ipvs.Family][]netip.Addr{}
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{s.Spec.ClusterIP}
	}
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			t.problem(ref, ReasonInvalidAddress, "cluster IP %q: %v", ip, err)
			continue
		}
		a = a.Unmap()
		t.clusterIPs[ipvs.FamilyOf(a)] = append(t.clusterIPs[ipvs.FamilyOf(a)], a)
	}
	addExt := func(what, ip string, kind firewall.Kind) {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			t.problem(ref, ReasonInvalidAddress, "%s %q: %v", what, ip, err)
			return
		}
		a = a.Unmap()
		if len(t.clusterIPs[ipvs.FamilyOf(a)]) == 0 {
			// Kubernetes programs a service per family it has; an
			// address of another family has no cluster-side service.
			t.problem(ref, ReasonInvalidAddress, "%s %s: the service has no %s cluster IP", what, a, ipvs.FamilyOf(a))
			return
		}
		t.external = append(t.external, extAddr{a, kind})
	}
	for _, ip := range s.Spec.ExternalIPs {
		addExt("external IP", ip, firewall.ExternalIP)
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range s.Status.LoadBalancer.Ingress {
			// With ipMode Proxy the load balancer terminates the traffic
			// and sends it to the node ports itself: binding its IP here
			// would short-circuit it.
			if in.IP == "" || (in.IPMode != nil && *in.IPMode == corev1.LoadBalancerIPModeProxy) {
				continue
			}
			addExt("load-balancer IP", in.IP, firewall.LoadBalancerIP)
		}
		for _, r := range s.Spec.LoadBalancerSourceRanges {
			p, err := netip.ParsePrefix(strings.TrimSpace(r))
			if err != nil {
				t.problem(ref, ReasonInvalidAddress, "load-balancer source range %q: %v", r, err)
				continue
			}
			t.ranges = append(t.ranges, p.Masked())
		}
	}
}

// port translates one service port in one family.
func (t *translator) port(p *corev1.ServicePort, proto ipvs.Protocol, f ipvs.Family, eps []endpointPort) {
	s := t.svc
	owner := s.Namespace + "/" + s.Name + ":" + portLabel(p)
	cluster := pick(eps, topologyFilter(eps, t.node))
	local := pick(eps, func(e *endpointPort) bool { return e.local })
	internal := cluster
	internalLocal := s.Spec.InternalTrafficPolicy != nil && *s.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	if internalLocal {
		internal = local
	}
	// Traffic from pods and the node to an external destination follows
	// the internal policy when the external one is Local (it is not
	// external traffic), and the cluster-wide set otherwise.
	externalSet, localOnly := cluster, false
	hasExternal := p.NodePort != 0 && hasFamily(t.node.NodePortAddresses, f)
	for _, e := range t.external {
		hasExternal = hasExternal || ipvs.FamilyOf(e.addr) == f
	}
	if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && hasExternal {
		externalSet, localOnly = internal, true
	}
	t.noLocal(internalLocal && len(local) == 0 && len(eps) > 0, localOnly && len(local) == 0 && len(eps) > 0, f)
	vs := func(k ipvs.Key, set []endpointPort) {
		svc := t.base
		svc.Key = k
		t.st.VirtualServers = append(t.st.VirtualServers, desired.VirtualServer{
			Service: svc, Owner: owner, DrainTimeout: t.opts.DrainTimeout, Destinations: t.dests(set, proto),
		})
	}
	for _, ip := range t.clusterIPs[f] {
		k := ipvs.Key{Family: f, Address: ip, Protocol: proto, Port: uint16(p.Port)}
		vs(k, internal)
		t.st.Firewall = append(t.st.Firewall, firewall.VirtualServer{Key: k, Kind: firewall.ClusterIP, HasEndpoints: len(internal) > 0})
		t.st.Addresses = append(t.st.Addresses, ip)
	}
	var mark uint32
	if localOnly {
		if mark = t.marks.Mark(owner + "/" + f.String()); mark == 0 {
			t.problem(svcRef(s), ReasonNoFirewallMark, "port %s (%s): no firewall mark left; external traffic reaches every endpoint", portLabel(p), f)
		} else {
			vs(ipvs.Key{Family: f, FWMark: mark}, local)
		}
	}
	fw := func(k ipvs.Key, kind firewall.Kind) firewall.VirtualServer {
		v := firewall.VirtualServer{Key: k, Kind: kind, HasEndpoints: len(externalSet) > 0, LocalOnly: localOnly}
		if mark != 0 {
			v.LocalFWMark, v.HasLocalEndpoints = mark, len(local) > 0
		}
		if kind == firewall.LoadBalancerIP {
			v.SourceRanges = t.ranges
		}
		return v
	}
	for _, e := range t.external {
		if ipvs.FamilyOf(e.addr) != f {
			continue
		}
		k := ipvs.Key{Family: f, Address: e.addr, Protocol: proto, Port: uint16(p.Port)}
		vs(k, externalSet)
		t.st.Firewall = append(t.st.Firewall, fw(k, e.kind))
		t.st.Addresses = append(t.st.Addresses, e.addr)
	}
	if p.NodePort != 0 && hasFamily(t.node.NodePortAddresses, f) {
		for _, a := range t.node.NodePortAddresses {
			if ipvs.FamilyOf(a) == f {
				vs(ipvs.Key{Family: f, Address: a, Protocol: proto, Port: uint16(p.NodePort)}, externalSet)
			}
		}
		t.st.Firewall = append(t.st.Firewall, fw(ipvs.Key{Family: f, Protocol: proto, Port: uint16(p.NodePort)}, firewall.NodePort))
	}
	for _, set := range [][]endpointPort{internal, externalSet, local} {
		for _, e := range set {
			if e.local {
				t.st.Hairpins = append(t.st.Hairpins, firewall.Hairpin{Backend: e.addr, Protocol: proto, Port: e.port})
			}
		}
	}
}

func (t *translator) dests(set []endpointPort, proto ipvs.Protocol) []ipvs.Destination {
	out := make([]ipvs.Destination, 0, len(set))
	for _, e := range set {
		out = append(out, ipvs.Destination{DestKey: ipvs.DestKey{Address: e.addr, Port: e.port}, Weight: 1, Forwarding: ipvs.Masquerade})
	}
	// Sorted as the reconciler keeps them, so it keeps this slice, handed
	// over, instead of a sorted copy (desired.Update.HandedOver).
	slices.SortFunc(out, func(a, b ipvs.Destination) int { return a.DestKey.Compare(b.DestKey) })
	return out
}

// noLocal records, once each, the Local policies (internal, external)
// that find endpoints in family f but none on this node.
func (t *translator) noLocal(internal, external bool, f ipvs.Family) {
	for _, n := range []struct {
		local  bool
		policy string
	}{{internal, "internal"}, {external, "external"}} {
		if nl := (NoLocal{Policy: n.policy, Family: f}); n.local && !slices.Contains(t.st.NoLocal, nl) {
			t.st.NoLocal = append(t.st.NoLocal, nl)
		}
	}
}

// healthCheck serves healthCheckNodePort for a Local external traffic
// policy: load balancers probe it to send traffic only to nodes with
// endpoints. Only ready endpoints count, so a node whose last endpoints
// are terminating fails the probe and is drained while they finish.
func (t *translator) healthCheck(set *sliceSet) {
	s := t.svc
	if s.Spec.HealthCheckNodePort <= 0 || s.Spec.HealthCheckNodePort > 65535 ||
		s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		return
	}
	t.st.HealthCheck = &HealthCheck{Port: uint16(s.Spec.HealthCheckNodePort), LocalEndpoints: set.localReady()}
}

func protocol(p corev1.Protocol) (ipvs.Protocol, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return ipvs.TCP, true
	case corev1.ProtocolUDP:
		return ipvs.UDP, true
	case corev1.ProtocolSCTP:
		return ipvs.SCTP, true
	}
	return 0, false
}

// portLabel names a service port in owners and metrics: its name, or its
// number when it has none (a single-port service need not name it).
func portLabel(p *corev1.ServicePort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Port))
}

func hasFamily(addrs []netip.Addr, f ipvs.Family) bool {
	return slices.ContainsFunc(addrs, func(a netip.Addr) bool { return ipvs.FamilyOf(a) == f })
}

func svcRef(s *corev1.Service) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: s.Namespace, Name: s.Name, UID: s.UID}
}

func sliceRef(s *discoveryv1.EndpointSlice) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1", Namespace: s.Namespace, Name: s.Name, UID: s.UID}
}

func cmpHairpin(a, b firewall.Hairpin) int {
	if c := a.Backend.Compare(b.Backend); c != 0 {
		return c
	}
	if a.Protocol != b.Protocol {
		return int(a.Protocol) - int(b.Protocol)
	}
	return int(a.Port) - int(b.Port)
}

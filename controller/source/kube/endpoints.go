package kube

import (
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ipvsd/ipvsd/ipvs"
)

// endpoint is one usable endpoint of a slice.
type endpoint struct {
	addr                        netip.Addr
	ready, serving, terminating bool
	// local: the endpoint runs on this node.
	local        bool
	zones, nodes []string
}

// endpointPort is an endpoint with the port one service port resolved to
// in its slice.
type endpointPort struct {
	*endpoint
	port uint16
}

type portID struct {
	name  string
	proto corev1.Protocol
}

// parsedSlice is one EndpointSlice, checked once per translation.
type parsedSlice struct {
	family    ipvs.Family
	ports     map[portID]uint16
	endpoints []endpoint
}

type sliceSet struct{ slices []parsedSlice }

// parseSlices keeps what is usable of each slice and reports the rest:
// an address that does not parse or is not of the slice's family, a port
// out of range. FQDN slices are not for proxies and are ignored.
func (t *translator) parseSlices(in []*discoveryv1.EndpointSlice) *sliceSet {
	set := &sliceSet{}
	for _, s := range in {
		var f ipvs.Family
		switch s.AddressType {
		case discoveryv1.AddressTypeIPv4:
			f = ipvs.IPv4
		case discoveryv1.AddressTypeIPv6:
			f = ipvs.IPv6
		default:
			continue
		}
		if ts, ok := s.Annotations[corev1.EndpointsLastChangeTriggerTime]; ok {
			if tt, err := time.Parse(time.RFC3339Nano, ts); err == nil && tt.After(t.st.TriggerTime) {
				t.st.TriggerTime = tt
			}
		}
		ps := parsedSlice{family: f, ports: map[portID]uint16{}}
		for _, p := range s.Ports {
			id := portID{proto: corev1.ProtocolTCP}
			if p.Name != nil {
				id.name = *p.Name
			}
			if p.Protocol != nil {
				id.proto = *p.Protocol
			}
			if p.Port == nil {
				// "Not restricted": meaningless for a proxy, which must
				// know where to send.
				continue
			}
			if *p.Port < 1 || *p.Port > 65535 {
				t.problem(sliceRef(s), ReasonInvalidPort, "port %q: %d is out of range", id.name, *p.Port)
				continue
			}
			ps.ports[id] = uint16(*p.Port)
		}
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			if len(e.Addresses) == 0 {
				continue
			}
			// Consumers use the first address only (the API says the
			// others are interchangeable and may be ignored).
			a, err := netip.ParseAddr(e.Addresses[0])
			if err != nil {
				t.problem(sliceRef(s), ReasonInvalidAddress, "endpoint %q: %v", e.Addresses[0], err)
				continue
			}
			a = a.Unmap()
			if ipvs.FamilyOf(a) != f {
				t.problem(sliceRef(s), ReasonInvalidAddress, "endpoint %s is not %s like the slice", a, f)
				continue
			}
			ep := endpoint{addr: a, ready: isTrue(e.Conditions.Ready, true)}
			// Serving defaults to Ready, terminating to false (the API's
			// reading of an unset condition).
			ep.serving = isTrue(e.Conditions.Serving, ep.ready)
			ep.terminating = isTrue(e.Conditions.Terminating, false)
			ep.local = e.NodeName != nil && t.node.Name != "" && *e.NodeName == t.node.Name
			if e.Hints != nil {
				for _, z := range e.Hints.ForZones {
					ep.zones = append(ep.zones, z.Name)
				}
				for _, n := range e.Hints.ForNodes {
					ep.nodes = append(ep.nodes, n.Name)
				}
			}
			ps.endpoints = append(ps.endpoints, ep)
		}
		set.slices = append(set.slices, ps)
	}
	return set
}

func isTrue(b *bool, unset bool) bool {
	if b == nil {
		return unset
	}
	return *b
}

// forPort returns the endpoints of family f with the port the service
// port (name, protocol) resolves to in their own slice, each address:port
// once. A slice without that port contributes nothing.
func (s *sliceSet) forPort(f ipvs.Family, name string, proto corev1.Protocol) []endpointPort {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	var out []endpointPort
	seen := map[ipvs.DestKey]int{}
	for i := range s.slices {
		ps := &s.slices[i]
		port, ok := ps.ports[portID{name, proto}]
		if ps.family != f || !ok {
			continue
		}
		for j := range ps.endpoints {
			e := &ps.endpoints[j]
			k := ipvs.DestKey{Address: e.addr, Port: port}
			if at, dup := seen[k]; dup {
				// While an endpoint moves between slices it may be in
				// both; the readier copy wins.
				if e.ready && !out[at].ready {
					out[at].endpoint = e
				}
				continue
			}
			seen[k] = len(out)
			out = append(out, endpointPort{e, port})
		}
	}
	return out
}

// pick returns the ready endpoints that ok accepts (nil: all), or if there
// are none, the serving and terminating ones.
func pick(eps []endpointPort, ok func(*endpointPort) bool) []endpointPort {
	var out []endpointPort
	for i := range eps {
		if eps[i].ready && (ok == nil || ok(&eps[i])) {
			out = append(out, eps[i])
		}
	}
	if len(out) > 0 {
		return out
	}
	for i := range eps {
		if !eps[i].ready && eps[i].serving && eps[i].terminating && (ok == nil || ok(&eps[i])) {
			out = append(out, eps[i])
		}
	}
	return out
}

// topologyFilter returns the topology-hint filter for the cluster-wide
// endpoint set, or nil for none. Hints are used only when every ready
// endpoint has them and at least one is for this node (node hints,
// PreferSameNode) or zone (zone hints, PreferClose/PreferSameZone):
// otherwise filtering could leave this node with no endpoint, or send
// unhinted endpoints no traffic.
func topologyFilter(eps []endpointPort, node *Node) func(*endpointPort) bool {
	allNodes, allZones := true, true
	forNode, forZone := false, false
	anyReady := false
	for i := range eps {
		e := &eps[i]
		if !e.ready {
			continue
		}
		anyReady = true
		if len(e.nodes) == 0 {
			allNodes = false
		} else if slices.Contains(e.nodes, node.Name) {
			forNode = true
		}
		if len(e.zones) == 0 {
			allZones = false
		} else if node.Zone != "" && slices.Contains(e.zones, node.Zone) {
			forZone = true
		}
	}
	switch {
	case !anyReady:
		return nil
	case allNodes && forNode:
		return func(e *endpointPort) bool { return slices.Contains(e.nodes, node.Name) }
	case allZones && forZone:
		return func(e *endpointPort) bool { return slices.Contains(e.zones, node.Zone) }
	}
	return nil
}

// localReady counts this node's distinct ready endpoint addresses over all
// slices, as the health check reports them.
func (s *sliceSet) localReady() int {
	seen := map[netip.Addr]bool{}
	for i := range s.slices {
		for _, e := range s.slices[i].endpoints {
			if e.local && e.ready {
				seen[e.addr] = true
			}
		}
	}
	return len(seen)
}

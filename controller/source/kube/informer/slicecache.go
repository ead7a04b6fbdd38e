package informer

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cachedSlice is what the EndpointSlice informer caches of a slice: what
// translation reads of it and nothing else. A slimmed EndpointSlice of 10
// endpoints took some 2.4 KB (the ObjectMeta alone is 240 bytes, an
// Endpoint 96 with its own slice of addresses, and the service-name label
// and trigger-time annotation a map each); this takes some 0.7 KB, 17 MB
// less at 10,000 Services x 10 endpoints. translate rebuilds an
// EndpointSlice from it (cachedSlice.slice) for the one service it
// translates.
type cachedSlice struct {
	name, namespace string
	uid             types.UID
	resourceVersion string
	// service is the "ns/name" of its service (the kubernetes.io/
	// service-name label), "" for a slice without one.
	service string
	// triggerTime is the endpoints.kubernetes.io/last-change-trigger-time
	// annotation; hasTriggerTime tells an empty one from none.
	triggerTime    string
	hasTriggerTime bool
	addressType    discoveryv1.AddressType
	ports          []discoveryv1.EndpointPort
	endpoints      []cachedEndpoint
}

// cachedEndpoint is an endpoint's first address (consumers use no other),
// its conditions as bits, and its node's shared name and its hints.
type cachedEndpoint struct {
	address    string
	conditions uint8
	nodeName   *string
	hints      *discoveryv1.EndpointHints
}

// The bits of cachedEndpoint.conditions: each condition is set or not, and
// true or false.
const (
	hasAddress uint8 = 1 << iota
	readySet
	ready
	servingSet
	serving
	terminatingSet
	terminating
)

// GetObjectMeta gives the cache its key (namespace and name) and the
// informer the resource version: meta.Accessor takes either a
// metav1.Object or this.
func (c *cachedSlice) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Name: c.name, Namespace: c.namespace, UID: c.uid, ResourceVersion: c.resourceVersion}
}

// cacheSlice is the cachedSlice of o, sharing its endpoints' node names.
func (sl *slimmer) cacheSlice(o *discoveryv1.EndpointSlice) *cachedSlice {
	c := &cachedSlice{
		name: o.Name, namespace: o.Namespace, uid: o.UID, resourceVersion: o.ResourceVersion,
		addressType: o.AddressType, ports: o.Ports,
		endpoints: make([]cachedEndpoint, len(o.Endpoints)),
	}
	c.service = serviceKey(o)
	c.triggerTime, c.hasTriggerTime = o.Annotations[corev1.EndpointsLastChangeTriggerTime]
	for i, e := range o.Endpoints {
		ce := cachedEndpoint{nodeName: sl.nodeName(e.NodeName), hints: e.Hints}
		if len(e.Addresses) > 0 {
			ce.address, ce.conditions = e.Addresses[0], hasAddress
		}
		ce.conditions |= condBits(e.Conditions.Ready, readySet, ready) |
			condBits(e.Conditions.Serving, servingSet, serving) |
			condBits(e.Conditions.Terminating, terminatingSet, terminating)
		c.endpoints[i] = ce
	}
	return c
}

func condBits(b *bool, set, value uint8) uint8 {
	switch {
	case b == nil:
		return 0
	case *b:
		return set | value
	}
	return set
}

// condOf is the condition the bits hold, pointing at the shared flags.
func condOf(bits, set, value uint8) *bool {
	switch {
	case bits&set == 0:
		return nil
	case bits&value != 0:
		return &condTrue
	}
	return &condFalse
}

// slice rebuilds the EndpointSlice translation reads: identity, address
// type, ports, the trigger-time annotation and each endpoint's first
// address, conditions, node and hints.
func (c *cachedSlice) slice() *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: c.name, Namespace: c.namespace, UID: c.uid, ResourceVersion: c.resourceVersion},
		AddressType: c.addressType,
		Ports:       c.ports,
		Endpoints:   make([]discoveryv1.Endpoint, len(c.endpoints)),
	}
	if c.hasTriggerTime {
		s.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: c.triggerTime}
	}
	addrs := make([]string, len(c.endpoints))
	for i, e := range c.endpoints {
		ep := discoveryv1.Endpoint{
			Conditions: discoveryv1.EndpointConditions{
				Ready:       condOf(e.conditions, readySet, ready),
				Serving:     condOf(e.conditions, servingSet, serving),
				Terminating: condOf(e.conditions, terminatingSet, terminating),
			},
			NodeName: e.nodeName, Hints: e.hints,
		}
		if e.conditions&hasAddress != 0 {
			addrs[i] = e.address
			ep.Addresses = addrs[i : i+1 : i+1]
		}
		s.Endpoints[i] = ep
	}
	return s
}

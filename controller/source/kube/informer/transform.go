package informer

import (
	"net/netip"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// slimmer is the informers' transform: it keeps only what translation
// reads, so the informer caches of a large cluster (nodes carry image
// lists and conditions, every object its managedFields) stay small, and it
// shares the values endpoints repeat. It runs before objects enter the
// cache, from each informer's goroutine.
type slimmer struct {
	mu sync.Mutex
	// nodeNames holds one copy of each node name endpoints are on; the
	// decoder gives every endpoint a pointer and a string of its own (3 MB
	// at 100,000 endpoints). Nodes that go leave their name behind: a few
	// bytes each.
	nodeNames map[string]*string
}

// The shared values of endpoint conditions. Nothing writes through them:
// objects in an informer cache are never changed.
var (
	condTrue  = true
	condFalse = false
)

func (sl *slimmer) transform(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Service:
		return &corev1.Service{
			ObjectMeta: slimMeta(o.ObjectMeta, func(k string) bool { return strings.HasPrefix(k, "ipvsd.io/") }, nil),
			Spec:       slimServiceSpec(o.Spec),
			Status:     corev1.ServiceStatus{LoadBalancer: o.Status.LoadBalancer},
		}, nil
	case *discoveryv1.EndpointSlice:
		return sl.cacheSlice(o), nil
	case *corev1.Node:
		n := &corev1.Node{
			ObjectMeta: slimMeta(o.ObjectMeta, nil, func(k string) bool { return k == corev1.LabelTopologyZone }),
			Status:     corev1.NodeStatus{Addresses: o.Status.Addresses},
		}
		// For /healthz's node eligibility, and detectLocalMode NodeCIDR.
		n.DeletionTimestamp = o.DeletionTimestamp
		n.Spec.PodCIDRs = o.Spec.PodCIDRs
		for _, t := range o.Spec.Taints {
			if t.Key == ToBeDeletedTaint {
				n.Spec.Taints = append(n.Spec.Taints, t)
			}
		}
		return n, nil
	}
	// Tombstones (cache.DeletedFinalStateUnknown) and anything else pass
	// through untouched.
	return obj, nil
}

var _ cache.TransformFunc = (&slimmer{}).transform

// nodeName is the shared copy of *n (nil for nil).
func (sl *slimmer) nodeName(n *string) *string {
	if n == nil {
		return nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if p, ok := sl.nodeNames[*n]; ok {
		return p
	}
	if sl.nodeNames == nil {
		sl.nodeNames = map[string]*string{}
	}
	sl.nodeNames[*n] = n
	return n
}

// slimMeta keeps identity and the annotations and labels the filters
// accept (nil: none).
func slimMeta(m metav1.ObjectMeta, keepAnnotation, keepLabel func(string) bool) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Annotations: filterMap(m.Annotations, keepAnnotation),
		Labels:      filterMap(m.Labels, keepLabel),
	}
}

func filterMap(m map[string]string, keep func(string) bool) map[string]string {
	if keep == nil {
		return nil
	}
	var out map[string]string
	for k, v := range m {
		if keep(k) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// slimServiceSpec drops the selector (endpoints come from slices) and the
// fields no proxy reads.
func slimServiceSpec(s corev1.ServiceSpec) corev1.ServiceSpec {
	return corev1.ServiceSpec{
		Type: s.Type, ClusterIP: s.ClusterIP, ClusterIPs: s.ClusterIPs, Ports: s.Ports,
		ExternalIPs: s.ExternalIPs, LoadBalancerSourceRanges: s.LoadBalancerSourceRanges,
		SessionAffinity: s.SessionAffinity, SessionAffinityConfig: s.SessionAffinityConfig,
		ExternalTrafficPolicy: s.ExternalTrafficPolicy, InternalTrafficPolicy: s.InternalTrafficPolicy,
		HealthCheckNodePort: s.HealthCheckNodePort, TrafficDistribution: s.TrafficDistribution,
		ExternalName: s.ExternalName, IPFamilies: s.IPFamilies,
	}
}

// serviceKey is the "ns/name" of an object's service: its own for a
// Service, its label's for an EndpointSlice ("" for a slice without one).
func serviceKey(obj any) string {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	switch o := obj.(type) {
	case *corev1.Service:
		return o.Namespace + "/" + o.Name
	case *cachedSlice:
		return o.service
	case *discoveryv1.EndpointSlice:
		if n := o.Labels[discoveryv1.LabelServiceName]; n != "" {
			return o.Namespace + "/" + n
		}
	}
	return ""
}

// primaryAddresses are the node's primary address of each family: the
// first InternalIP, else the first ExternalIP. They are the default
// node-port addresses, as kube-proxy chooses them.
func primaryAddresses(n *corev1.Node) []netip.Addr {
	var out []netip.Addr
	for _, typ := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range n.Status.Addresses {
			ip, err := netip.ParseAddr(a.Address)
			if a.Type != typ || err != nil {
				continue
			}
			ip = ip.Unmap()
			if !slices.ContainsFunc(out, func(o netip.Addr) bool { return o.Is4() == ip.Is4() }) {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// withBindAddress replaces the primary address of bind's family with bind,
// unless bind is unset or unspecified (0.0.0.0, kube-proxy's default).
func withBindAddress(primary []netip.Addr, bind netip.Addr) []netip.Addr {
	if !bind.IsValid() || bind.IsUnspecified() {
		return primary
	}
	bind = bind.Unmap()
	out := slices.DeleteFunc(slices.Clone(primary), func(a netip.Addr) bool { return a.Is4() == bind.Is4() })
	out = append(out, bind)
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// podCIDRs parses the Node's spec.podCIDRs, skipping what does not parse
// (the API server validates them).
func podCIDRs(n *corev1.Node) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range n.Spec.PodCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

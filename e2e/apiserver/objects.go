package apiserver

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// These helpers build and create what a cluster without a controller-manager
// or kubelet never gets by itself. They take any clientset, so guest tests
// (with GuestAdminKubeconfig) use them as well as host tests.

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// slices tests write: the EndpointSlice controller would leave them alone.
const ManagedBy = "e2e.ipvsd.io"

// EnsureNamespace creates namespace name unless it exists.
func EnsureNamespace(ctx context.Context, c kubernetes.Interface, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// TCPPort is a named Service port.
func TCPPort(name string, port, target int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(target)}
}

// UDPPort is a named UDP Service port.
func UDPPort(name string, port, target int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolUDP, Port: port, TargetPort: intstr.FromInt32(target)}
}

// SCTPPort is a named SCTP Service port.
func SCTPPort(name string, port, target int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolSCTP, Port: port, TargetPort: intstr.FromInt32(target)}
}

// NewService is a ClusterIP Service with no selector (tests own its
// EndpointSlices); change Spec before creating it for other types.
func NewService(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: ports},
	}
}

// CreateService creates svc and returns it with its allocated ClusterIP
// (and NodePorts).
func CreateService(ctx context.Context, c kubernetes.Interface, svc *corev1.Service) (*corev1.Service, error) {
	out, err := c.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return out, nil
}

// SetLoadBalancerIngress writes the status a cloud controller would: the
// load-balancer IPs of a type LoadBalancer Service.
func SetLoadBalancerIngress(ctx context.Context, c kubernetes.Interface, svc *corev1.Service, ips ...string) (*corev1.Service, error) {
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = nil
	for _, ip := range ips {
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	out, err := c.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting load-balancer ingress of %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return out, nil
}

// Endpoint is one address of a hand-written EndpointSlice.
type Endpoint struct {
	IP   string
	Node string // nodeName; "" for none
	Zone string
	// ForZones are the zone hints (hints.forZones) the EndpointSlice
	// controller writes for trafficDistribution PreferClose.
	ForZones []string
	// NotReady marks it not ready; Terminating also marks it terminating
	// (serving unless NotServing).
	NotReady, Terminating, NotServing bool
}

// NewEndpointSlice is an IPv4 slice named name for svc with the given
// endpoints and ports, labelled so it belongs to svc, and stamped with the
// last-change-trigger-time annotation as the EndpointSlice controller does.
func NewEndpointSlice(svc *corev1.Service, name string, eps []Endpoint, ports ...discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace,
			Name:      name,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   ManagedBy,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	SetEndpoints(s, eps)
	return s
}

// SetEndpoints replaces the slice's endpoints and refreshes its trigger
// time annotation.
func SetEndpoints(s *discoveryv1.EndpointSlice, eps []Endpoint) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[corev1.EndpointsLastChangeTriggerTime] = time.Now().UTC().Format(time.RFC3339Nano)
	s.Endpoints = nil
	for _, e := range eps {
		ep := discoveryv1.Endpoint{
			Addresses: []string{e.IP},
			Conditions: discoveryv1.EndpointConditions{
				Ready:       ptr(!e.NotReady && !e.Terminating),
				Serving:     ptr(!e.NotServing),
				Terminating: ptr(e.Terminating),
			},
		}
		if e.Node != "" {
			ep.NodeName = ptr(e.Node)
		}
		if e.Zone != "" {
			ep.Zone = ptr(e.Zone)
		}
		if len(e.ForZones) > 0 {
			ep.Hints = &discoveryv1.EndpointHints{}
			for _, z := range e.ForZones {
				ep.Hints.ForZones = append(ep.Hints.ForZones, discoveryv1.ForZone{Name: z})
			}
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
}

// SlicePort is a named TCP port of an EndpointSlice.
func SlicePort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(port)}
}

// SliceUDPPort is a named UDP port of an EndpointSlice.
func SliceUDPPort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Protocol: ptr(corev1.ProtocolUDP), Port: ptr(port)}
}

// SliceSCTPPort is a named SCTP port of an EndpointSlice.
func SliceSCTPPort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Protocol: ptr(corev1.ProtocolSCTP), Port: ptr(port)}
}

// CreateEndpointSlice creates s.
func CreateEndpointSlice(ctx context.Context, c kubernetes.Interface, s *discoveryv1.EndpointSlice) (*discoveryv1.EndpointSlice, error) {
	out, err := c.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating endpointslice %s/%s: %w", s.Namespace, s.Name, err)
	}
	return out, nil
}

// UpdateEndpoints fetches slice ns/name, replaces its endpoints and writes
// it back: endpoint churn as the EndpointSlice controller would cause it.
func UpdateEndpoints(ctx context.Context, c kubernetes.Interface, ns, name string, eps []Endpoint) (*discoveryv1.EndpointSlice, error) {
	s, err := c.DiscoveryV1().EndpointSlices(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting endpointslice %s/%s: %w", ns, name, err)
	}
	SetEndpoints(s, eps)
	out, err := c.DiscoveryV1().EndpointSlices(ns).Update(ctx, s, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating endpointslice %s/%s: %w", ns, name, err)
	}
	return out, nil
}

// CreateNode registers a Node as a kubelet would: name, labels, and its
// InternalIP addresses in the status (written in a second call, since the
// status is a subresource).
func CreateNode(ctx context.Context, c kubernetes.Interface, name string, labels map[string]string, internalIPs ...string) (*corev1.Node, error) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	out, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating node %s: %w", name, err)
	}
	out.Status.Addresses = nil
	for _, ip := range internalIPs {
		out.Status.Addresses = append(out.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	out.Status.Addresses = append(out.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	out.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "E2E",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	out, err = c.CoreV1().Nodes().UpdateStatus(ctx, out, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting the status of node %s: %w", name, err)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

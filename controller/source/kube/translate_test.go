package kube

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

type translateCase struct {
	name   string
	svc    *corev1.Service
	slices []*discoveryv1.EndpointSlice
	node   *Node // testNode if nil
	want   []string
}

func runTranslate(t *testing.T, cases []translateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := tc.node
			if node == nil {
				node = &testNode
			}
			got := render(Translate(tc.svc, tc.slices, node, &testOpts, fixedMarks(0x1234)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("translation (-want +got):\n%s", diff)
			}
		})
	}
}

func nodePort(s *corev1.Service) {
	s.Spec.Type = corev1.ServiceTypeNodePort
	s.Spec.Ports[0].NodePort = 30080
}

func loadBalancer(ips ...string) func(*corev1.Service) {
	return func(s *corev1.Service) {
		nodePort(s)
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		for _, ip := range ips {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
	}
}

func etpLocal(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	s.Spec.HealthCheckNodePort = 32000
}

func TestTranslateClusterIP(t *testing.T) {
	runTranslate(t, []translateCase{{
		name:   "ready endpoints only",
		svc:    service(),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1", "10.0.0.2!", "10.0.0.3~")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name:   "serving and terminating when none is ready",
		svc:    service(),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.2!", "10.0.0.3~", "10.0.0.4x")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.3:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name:   "no usable endpoint: the firewall rejects",
		svc:    service(),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.2!", "10.0.0.4x")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
		},
	}, {
		name:   "headless is skipped",
		svc:    service(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"} }),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")},
	}, {
		name: "ExternalName is skipped",
		svc: service(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "", nil, "example.com"
		}),
	}, {
		name: "port names resolve per slice; an unnamed port by its number",
		svc: service(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				corev1.ServicePort{Name: "", Port: 9, Protocol: corev1.ProtocolSCTP})
		}),
		slices: []*discoveryv1.EndpointSlice{
			v4("a", 8080, "10.0.0.1"),
			v4("b", 8081, "10.0.0.2"),
			func() *discoveryv1.EndpointSlice {
				s := v4("c", 0, "10.0.0.3@")
				s.Ports = []discoveryv1.EndpointPort{
					{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)},
					{Name: ptr.To("dns"), Port: ptr.To[int32](5300), Protocol: ptr.To(corev1.ProtocolTCP)},
					{Name: ptr.To(""), Port: ptr.To[int32](9999), Protocol: ptr.To(corev1.ProtocolSCTP)},
				}
				return s
			}(),
		},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8081",
			"VS UDP 10.96.0.1:53 rr ns/web:dns -> 10.0.0.3:5353",
			"VS SCTP 10.96.0.1:9 rr ns/web:9 -> 10.0.0.3:9999",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW ClusterIP UDP 10.96.0.1:53",
			"FW ClusterIP SCTP 10.96.0.1:9",
			"ADDR 10.96.0.1",
			"HAIRPIN UDP 10.0.0.3:5353",
			"HAIRPIN SCTP 10.0.0.3:9999",
		},
	}, {
		name:   "an endpoint in two slices counts once, the ready copy",
		svc:    service(),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1!"), v4("b", 8080, "10.0.0.1", "10.0.0.2")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name: "internalTrafficPolicy Local: only this node's endpoints",
		svc: service(func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		}),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1", "10.0.0.2@", "10.0.0.3@~")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
			"HAIRPIN TCP 10.0.0.2:8080",
		},
	}, {
		name: "internalTrafficPolicy Local without local endpoints: rejected",
		svc: service(func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		}),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
		},
	}, {
		name: "session affinity ClientIP: persistence with the default and a set timeout",
		svc: service(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 81})
		}),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr flags=1 persistent=10800 ns/web:http -> 10.0.0.1:8080",
			"VS TCP 10.96.0.1:81 rr flags=1 persistent=10800 ns/web:b ->",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW ClusterIP TCP 10.96.0.1:81 no-endpoints",
			"ADDR 10.96.0.1",
		},
	}, {
		name: "session affinity timeout from the service",
		svc: service(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
		}),
		want: []string{
			"VS TCP 10.96.0.1:80 rr flags=1 persistent=60 ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
		},
	}})
}

func TestTranslateDualStack(t *testing.T) {
	dual := func(s *corev1.Service) {
		s.Spec.ClusterIPs = []string{"10.96.0.1", "fd00::1"}
		nodePort(s)
	}
	runTranslate(t, []translateCase{{
		name: "each family gets its own virtual servers and endpoints",
		svc:  service(dual),
		slices: []*discoveryv1.EndpointSlice{
			v4("a", 8080, "10.0.0.1"),
			slice("b", discoveryv1.AddressTypeIPv6, 8080, "fd01::1"),
			slice("fqdn", discoveryv1.AddressTypeFQDN, 8080, "example.com"),
		},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"VS TCP 192.168.1.10:30080 rr ns/web:http -> 10.0.0.1:8080",
			"VS TCP [fd00::1]:80 rr ns/web:http -> [fd01::1]:8080",
			"VS TCP [2001:db8::10]:30080 rr ns/web:http -> [fd01::1]:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW NodePort IPv4 TCP :30080",
			"FW ClusterIP TCP [fd00::1]:80",
			"FW NodePort IPv6 TCP :30080",
			"ADDR 10.96.0.1",
			"ADDR fd00::1",
		},
	}, {
		name:   "a single-stack service ignores the other family's slices and node addresses",
		svc:    service(nodePort),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1"), slice("b", discoveryv1.AddressTypeIPv6, 8080, "fd01::1")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"VS TCP 192.168.1.10:30080 rr ns/web:http -> 10.0.0.1:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW NodePort IPv4 TCP :30080",
			"ADDR 10.96.0.1",
		},
	}, {
		name: "no node address of the family: no node port",
		svc:  service(dual),
		node: &Node{Name: "node-a", NodePortAddresses: testNode.NodePortAddresses[:1]},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http ->",
			"VS TCP 192.168.1.10:30080 rr ns/web:http ->",
			"VS TCP [fd00::1]:80 rr ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"FW NodePort IPv4 TCP :30080 no-endpoints",
			"FW ClusterIP TCP [fd00::1]:80 no-endpoints",
			"ADDR 10.96.0.1",
			"ADDR fd00::1",
		},
	}})
}

func TestTranslateTriggerTime(t *testing.T) {
	a, b := v4("a", 8080, "10.0.0.1"), v4("b", 8080, "10.0.0.2")
	a.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: "2026-01-02T03:04:05Z"}
	b.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: "2026-01-02T03:04:07.5Z"}
	got := Translate(service(), []*discoveryv1.EndpointSlice{a, b}, &testNode, &testOpts, fixedMarks(1)).TriggerTime
	if want := time.Date(2026, 1, 2, 3, 4, 7, 5e8, time.UTC); !got.Equal(want) {
		t.Errorf("trigger time %v, want %v", got, want)
	}
}

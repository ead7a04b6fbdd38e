package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestTranslateExternal(t *testing.T) {
	runTranslate(t, []translateCase{{
		name: "load-balancer IPs (not ipMode Proxy, not hostnames) with source ranges, external IPs",
		svc: service(loadBalancer("203.0.113.1"), func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress,
				corev1.LoadBalancerIngress{IP: "203.0.113.2", IPMode: ptr.To(corev1.LoadBalancerIPModeProxy)},
				corev1.LoadBalancerIngress{Hostname: "lb.example.com"},
				corev1.LoadBalancerIngress{IP: "203.0.113.3", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
			s.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24", " 192.0.2.7/32 "}
			s.Spec.ExternalIPs = []string{"198.51.100.50"}
		}),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1", "10.0.0.2@")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"VS TCP 198.51.100.50:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"VS TCP 203.0.113.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"VS TCP 203.0.113.3:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"VS TCP 192.168.1.10:30080 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW ExternalIP TCP 198.51.100.50:80",
			"FW LoadBalancerIP TCP 203.0.113.1:80 ranges=[198.51.100.0/24 192.0.2.7/32]",
			"FW LoadBalancerIP TCP 203.0.113.3:80 ranges=[198.51.100.0/24 192.0.2.7/32]",
			"FW NodePort IPv4 TCP :30080",
			"ADDR 10.96.0.1",
			"ADDR 198.51.100.50",
			"ADDR 203.0.113.1",
			"ADDR 203.0.113.3",
			"HAIRPIN TCP 10.0.0.2:8080",
		},
	}, {
		name:   "externalTrafficPolicy Local: in-cluster traffic reaches all endpoints, marked external traffic the local ones",
		svc:    service(loadBalancer("203.0.113.1"), etpLocal),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1", "10.0.0.2@", "10.0.0.3@!", "10.0.0.4@")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080 10.0.0.4:8080",
			"VS FWM 4660 rr ns/web:http -> 10.0.0.2:8080 10.0.0.4:8080",
			"VS TCP 203.0.113.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080 10.0.0.4:8080",
			"VS TCP 192.168.1.10:30080 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080 10.0.0.4:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW LoadBalancerIP TCP 203.0.113.1:80 local-only mark=0x1234 local-endpoints=true",
			"FW NodePort IPv4 TCP :30080 local-only mark=0x1234 local-endpoints=true",
			"ADDR 10.96.0.1",
			"ADDR 203.0.113.1",
			"HAIRPIN TCP 10.0.0.2:8080",
			"HAIRPIN TCP 10.0.0.4:8080",
			"HEALTHCHECK :32000 local=2",
		},
	}, {
		name:   "externalTrafficPolicy Local without local endpoints: external traffic dropped, health check fails",
		svc:    service(loadBalancer("203.0.113.1"), etpLocal),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1", "10.0.0.2@~")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"VS FWM 4660 rr ns/web:http -> 10.0.0.2:8080",
			"VS TCP 203.0.113.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"VS TCP 192.168.1.10:30080 rr ns/web:http -> 10.0.0.1:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"FW LoadBalancerIP TCP 203.0.113.1:80 local-only mark=0x1234 local-endpoints=true",
			"FW NodePort IPv4 TCP :30080 local-only mark=0x1234 local-endpoints=true",
			"ADDR 10.96.0.1",
			"ADDR 203.0.113.1",
			"HAIRPIN TCP 10.0.0.2:8080",
			"HEALTHCHECK :32000 local=0",
		},
	}, {
		name: "externalTrafficPolicy Local with internalTrafficPolicy Local: in-cluster traffic follows the internal policy",
		svc: service(loadBalancer("203.0.113.1"), etpLocal, func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
			s.Spec.Ports[0].NodePort = 0
		}),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http ->",
			"VS FWM 4660 rr ns/web:http ->",
			"VS TCP 203.0.113.1:80 rr ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"FW LoadBalancerIP TCP 203.0.113.1:80 no-endpoints local-only mark=0x1234 local-endpoints=false",
			"ADDR 10.96.0.1",
			"ADDR 203.0.113.1",
			"HEALTHCHECK :32000 local=0",
		},
	}, {
		name: "externalTrafficPolicy Local and no external destination: no mark",
		svc: service(func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}),
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
		},
	}})
}

func TestTranslateTopology(t *testing.T) {
	td := func(s *corev1.Service) {
		s.Spec.TrafficDistribution = ptr.To(corev1.ServiceTrafficDistributionPreferClose)
	}
	runTranslate(t, []translateCase{{
		name:   "zone hints for this zone filter the cluster-wide set",
		svc:    service(td),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1 z=zone-a", "10.0.0.2 z=zone-b", "10.0.0.3! z=zone-b")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name:   "one ready endpoint without hints: no filtering",
		svc:    service(td),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1 z=zone-a", "10.0.0.2")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name:   "no endpoint for this zone: no filtering",
		svc:    service(td),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1 z=zone-b", "10.0.0.2 z=zone-c")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name:   "node without a zone label: no filtering",
		svc:    service(td),
		node:   &Node{Name: "node-a"},
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1 z=zone-a", "10.0.0.2 z=zone-b")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}, {
		name: "node hints (PreferSameNode) win over zone hints",
		svc: service(func(s *corev1.Service) {
			s.Spec.TrafficDistribution = ptr.To(corev1.ServiceTrafficDistributionPreferSameNode)
		}),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080,
			"10.0.0.1@ z=zone-a n=node-a", "10.0.0.2 z=zone-a n=node-b", "10.0.0.3 z=zone-b n=node-c")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
			"HAIRPIN TCP 10.0.0.1:8080",
		},
	}, {
		name:   "hints for terminating endpoints apply when they are all that is left",
		svc:    service(td),
		slices: []*discoveryv1.EndpointSlice{v4("a", 8080, "10.0.0.1~ z=zone-a", "10.0.0.2~ z=zone-b")},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080 10.0.0.2:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
		},
	}})
}

func TestTranslateSchedulerAndProblems(t *testing.T) {
	ann := func(kv ...string) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Annotations = map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				s.Annotations[kv[i]] = kv[i+1]
			}
		}
	}
	runTranslate(t, []translateCase{{
		name: "scheduler and flags from annotations",
		svc:  service(ann(AnnotationScheduler, "sh", AnnotationSchedulerFlags, "sh-port, sh-fallback")),
		want: []string{
			"VS TCP 10.96.0.1:80 sh flags=1100 ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
		},
	}, {
		name: "unknown scheduler: the default, and a problem",
		svc:  service(ann(AnnotationScheduler, "fastest")),
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
			`PROBLEM Service/web InvalidScheduler: annotation ipvsd.io/scheduler: unknown IPVS scheduler "fastest"; using "rr"`,
		},
	}, {
		name: "a flag of another scheduler: no flags, and a problem",
		svc:  service(ann(AnnotationScheduler, "mh", AnnotationSchedulerFlags, "sh-port")),
		want: []string{
			"VS TCP 10.96.0.1:80 mh ns/web:http ->",
			"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
			"ADDR 10.96.0.1",
			`PROBLEM Service/web InvalidScheduler: annotation ipvsd.io/scheduler-flags: flag "sh-port" needs scheduler sh, not mh; using no flags`,
		},
	}, {
		name: "what cannot be programmed is skipped with a problem, the rest programmed",
		svc: service(func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"2001:db8::99", "not-an-ip"}
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "odd", Port: 81, Protocol: "HTTP"})
		}),
		slices: []*discoveryv1.EndpointSlice{
			v4("a", 8080, "10.0.0.1", "fd00::7", "10.0.0.300"),
			v4("b", 70000, "10.0.0.2"),
		},
		want: []string{
			"VS TCP 10.96.0.1:80 rr ns/web:http -> 10.0.0.1:8080",
			"FW ClusterIP TCP 10.96.0.1:80",
			"ADDR 10.96.0.1",
			"PROBLEM Service/web InvalidAddress: external IP 2001:db8::99: the service has no IPv6 cluster IP",
			`PROBLEM Service/web InvalidAddress: external IP "not-an-ip": ParseAddr("not-an-ip"): unable to parse IP`,
			"PROBLEM EndpointSlice/a InvalidAddress: endpoint fd00::7 is not IPv4 like the slice",
			`PROBLEM EndpointSlice/a InvalidAddress: endpoint "10.0.0.300": ParseAddr("10.0.0.300"): IPv4 field has value >255`,
			`PROBLEM EndpointSlice/b InvalidPort: port "http": 70000 is out of range`,
			"PROBLEM Service/web UnsupportedProtocol: port odd: protocol HTTP is not supported by IPVS",
		},
	}})
}

func TestTranslateNoMarkLeft(t *testing.T) {
	st := Translate(service(nodePort, etpLocal), nil, &testNode, &testOpts, fixedMarks(0))
	got := render(st)
	want := []string{
		"VS TCP 10.96.0.1:80 rr ns/web:http ->",
		"VS TCP 192.168.1.10:30080 rr ns/web:http ->",
		"FW ClusterIP TCP 10.96.0.1:80 no-endpoints",
		"FW NodePort IPv4 TCP :30080 no-endpoints local-only",
		"ADDR 10.96.0.1",
		"HEALTHCHECK :32000 local=0",
		"PROBLEM Service/web NoFirewallMark: port http (IPv4): no firewall mark left; external traffic reaches every endpoint",
	}
	if diff := diffLines(want, got); diff != "" {
		t.Error(diff)
	}
}

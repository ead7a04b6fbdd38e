package kube

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/go-cmp/cmp"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// fixedMarks gives every key the same mark, so expectations stay readable.
type fixedMarks uint32

func (m fixedMarks) Mark(string) uint32 { return uint32(m) }

var testNode = Node{
	Name: "node-a", Zone: "zone-a",
	NodePortAddresses: []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("2001:db8::10")},
}

var testOpts = Options{Scheduler: "rr"}

// service returns ns/web, a ClusterIP service on 10.96.0.1 with port
// http 80/TCP, changed by mods.
func service(mods ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.1",
			ClusterIPs: []string{"10.96.0.1"},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// ep describes an endpoint: "10.0.0.1" is ready and remote; suffixes
// change it: "@" local (on node-a), "!" not ready, "~" serving and
// terminating, "x" terminating and not serving, "z=zone-a" a zone hint,
// "n=node-a" a node hint.
func ep(spec string) discoveryv1.Endpoint {
	parts := strings.Fields(spec)
	addr := parts[0]
	e := discoveryv1.Endpoint{NodeName: ptr.To("node-b")}
	ready, serving, term := true, true, false
	for _, c := range addr {
		switch c {
		case '@':
			e.NodeName = ptr.To("node-a")
		case '!':
			ready, serving = false, false
		case '~':
			ready, serving, term = false, true, true
		case 'x':
			ready, serving, term = false, false, true
		}
	}
	addr = strings.TrimRight(addr, "@!~x")
	e.Addresses = []string{addr}
	e.Conditions = discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &term}
	for _, p := range parts[1:] {
		if e.Hints == nil {
			e.Hints = &discoveryv1.EndpointHints{}
		}
		switch {
		case strings.HasPrefix(p, "z="):
			e.Hints.ForZones = append(e.Hints.ForZones, discoveryv1.ForZone{Name: p[2:]})
		case strings.HasPrefix(p, "n="):
			e.Hints.ForNodes = append(e.Hints.ForNodes, discoveryv1.ForNode{Name: p[2:]})
		}
	}
	return e
}

// slice returns an EndpointSlice of ns/web named name, with the port
// "http" at port (TCP), holding the endpoints given as ep specs.
func slice(name string, af discoveryv1.AddressType, port int32, eps ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, UID: "slice-uid", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: af,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, ep(e))
	}
	return s
}

func v4(name string, port int32, eps ...string) *discoveryv1.EndpointSlice {
	return slice(name, discoveryv1.AddressTypeIPv4, port, eps...)
}

// render prints a translation as lines, one fact each, for diffs that read
// like ipvsadm output.
func render(st ServiceState) []string {
	var out []string
	for _, vs := range st.VirtualServers {
		l := fmt.Sprintf("VS %s %s", vs.Key, vs.Scheduler)
		if vs.Flags != 0 {
			l += fmt.Sprintf(" flags=%b", vs.Flags)
		}
		if vs.Timeout != 0 {
			l += fmt.Sprintf(" persistent=%d", vs.Timeout)
		}
		l += " " + vs.Owner + " ->"
		for _, d := range vs.Destinations {
			l += " " + d.DestKey.String()
			if d.Weight != 1 || d.Forwarding != ipvs.Masquerade {
				l += fmt.Sprintf("(w%d %s)", d.Weight, d.Forwarding)
			}
		}
		out = append(out, l)
	}
	for _, f := range st.Firewall {
		l := fmt.Sprintf("FW %s %s", f.Kind, f.Key)
		if f.Kind == firewall.NodePort {
			l = fmt.Sprintf("FW %s %s %s :%d", f.Kind, f.Key.Family, f.Key.Protocol, f.Key.Port)
		}
		if !f.HasEndpoints {
			l += " no-endpoints"
		}
		if f.LocalOnly {
			l += " local-only"
		}
		if f.LocalFWMark != 0 {
			l += fmt.Sprintf(" mark=%#x local-endpoints=%t", f.LocalFWMark, f.HasLocalEndpoints)
		}
		if len(f.SourceRanges) > 0 {
			l += fmt.Sprintf(" ranges=%v", f.SourceRanges)
		}
		out = append(out, l)
	}
	for _, a := range st.Addresses {
		out = append(out, "ADDR "+a.String())
	}
	for _, h := range st.Hairpins {
		out = append(out, fmt.Sprintf("HAIRPIN %s %s:%d", h.Protocol, h.Backend, h.Port))
	}
	if st.HealthCheck != nil {
		out = append(out, fmt.Sprintf("HEALTHCHECK :%d local=%d", st.HealthCheck.Port, st.HealthCheck.LocalEndpoints))
	}
	for _, p := range st.Problems {
		out = append(out, fmt.Sprintf("PROBLEM %s/%s %s: %s", p.Object.Kind, p.Object.Name, p.Reason, p.Message))
	}
	return out
}

func diffLines(want, got []string) string {
	if d := cmp.Diff(want, got); d != "" {
		return "(-want +got):\n" + d
	}
	return ""
}

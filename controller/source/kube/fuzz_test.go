package kube

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// FuzzTranslate builds a Service, its EndpointSlices and the Node from
// fuzzed bytes and requires Translate not to panic and to emit only
// virtual servers the kernel takes (checkKernelTakes). Values come from
// pools of what matters (both families, zones, mapped and unspecified
// addresses, every protocol, ports at and past their limits) or straight
// from the bytes, so the fuzzer reaches odd strings as well.
func FuzzTranslate(f *testing.F) {
	for _, seed := range fuzzTranslateSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{b: data}
		svc, eps, node, opts, marks := in.service(), in.slices(), in.node(), in.options(), in.marker()
		st := Translate(svc, eps, node, opts, marks)
		if err := checkKernelTakes(st.VirtualServers); err != nil {
			t.Fatalf("%v\nservice: %+v\nslices: %+v\nnode: %+v", err, svc, eps, node)
		}
	})
}

// fuzzTranslateSeeds start FuzzTranslate and run in every go test.
var fuzzTranslateSeeds = [][]byte{
	nil,
	{0},
	[]byte("printable text: high pool indexes and raw strings"),
	{1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 2, 0, 1, 1, 1, 1, 0, 0, 0},
	{2, 3, 2, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 3, 2, 2, 1, 1, 1, 2, 2, 1, 1, 1, 2, 1},
	{3, 2, 1, 0, 2, 3, 1, 3, 2, 2, 1, 3, 3, 0, 1, 2, 2, 1, 3, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9},
	{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1},
	// Found by a search for inputs that program several virtual servers with real servers.
	[]byte("\x01\x03\x01\x00\x02\x02\x04\x03\x01\x00\x04\x03\x02\x01\x03\x02\x05\x00\x02\x01\x03\x02\x05\x00\x02\x03\x03\x02\x04\x05\x03\x02\x03\x04\x03\x03\x05\x02\x02\x01\x00\x05\x00\x00\x02\x03\x00\x03\x02\x03\x01\x00\x04\x04\x02\x04\x00\x04\x04\x01\x01\x00\x00\x05\x01\x01\x01\x02\x03\x01\x00\x02\x02\x04\x03\x05\x02\x02\x00\x01\x01\x04\x02\x00\x04\x02\x02\x05\x01\x05\x05\x05\x02"),
	[]byte("\x02\x05\x05\x02\x05\x00\x00\x05\x03\x01\x00\x05\x02\x02\x00\x04\x02\x02\x04\x02\x05\x04\x04\x05\x00\x04\x01\x01\x00\x02\x03\x03\x05\x02\x01\x05\x02\x02\x02\x00\x00\x02\x03\x00\x03\x03\x01\x05\x02\x05\x00\x00\x00\x04\x01\x01\x03\x04\x04\x05\x04\x01\x01\x03\x00\x04\x02\x00\x05\x03\x01\x04\x01\x05\x05\x04"),
	[]byte("\x01\x04\x04\x03\x03\x02\x00\x04\x03\x03\x02\x02\x01\x04\x01\x00\x04\x02\x05\x00\x04\x05\x00\x00\x02\x04\x00\x03\x04\x03\x05\x01\x04\x00\x03\x00\x00\x00\x02\x02\x01\x04\x00\x00\x04\x01\x01\x01\x01\x05\x01\x00\x05\x00\x04\x01\x00\x05\x00\x05\x01\x02\x04\x05\x03\x04\x04\x03\x04\x02\x01\x04\x02\x00\x01\x05\x00\x04\x02\x02\x00\x04\x00\x03\x02\x05"),
	[]byte("\x02\x01\x05\x05\x00\x02\x02\x00\x02\x05\x01\x02\x02\x04\x03\x03\x00\x04\x05\x02\x02\x01\x02\x02\x01\x04\x04\x01\x04\x00\x05\x05\x04\x03\x04\x02\x02\x02\x03\x02\x03\x00\x02\x02\x03\x01\x05\x01\x00\x01\x01\x05\x00\x00\x00\x01\x01\x00\x02\x03\x03\x03\x03\x04\x01\x02\x05\x00\x03\x04"),
	[]byte("\x02\x05\x00\x00\x05\x05\x05\x00\x05\x01\x00\x00\x05\x02\x05\x03\x02\x05\x00\x03\x02\x04\x04\x01\x02\x01\x00\x05\x01\x05\x04\x00\x05\x04\x05\x01\x01\x05\x03\x00\x05\x01\x02\x04\x04\x05\x00\x03\x00\x01\x02\x03\x01\x03\x05\x02\x05\x04\x01\x01\x04\x04\x01\x05\x04\x02\x00\x03\x05\x00\x05\x00\x01\x04\x03\x02\x02\x00\x03\x03\x01\x04\x00\x02\x05\x01"),
}

// The seeds translate into virtual servers with real servers, so the
// check of the fuzz target has something to look at from the start.
func TestFuzzTranslateSeedsProgram(t *testing.T) {
	vss, dests := 0, 0
	for _, seed := range fuzzTranslateSeeds {
		in := &fuzzInput{b: seed}
		st := Translate(in.service(), in.slices(), in.node(), in.options(), in.marker())
		vss += len(st.VirtualServers)
		for _, vs := range st.VirtualServers {
			dests += len(vs.Destinations)
		}
	}
	if vss == 0 || dests == 0 {
		t.Fatalf("the seeds translate into %d virtual servers with %d real servers", vss, dests)
	}
}

// checkKernelTakes finds each kind of virtual server the kernel refuses.
func TestCheckKernelTakes(t *testing.T) {
	good := desired.VirtualServer{
		Service:      ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.1"), Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr"},
		Destinations: []ipvs.Destination{{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080}, Weight: 1}},
	}
	if err := checkKernelTakes([]desired.VirtualServer{good}); err != nil {
		t.Fatalf("a good virtual server: %v", err)
	}
	for name, mod := range map[string]func(*desired.VirtualServer){
		"no scheduler":      func(vs *desired.VirtualServer) { vs.Scheduler = "" },
		"unknown scheduler": func(vs *desired.VirtualServer) { vs.Scheduler = "bogus" },
		"port 0":            func(vs *desired.VirtualServer) { vs.Port = 0 },
		"wrong family":      func(vs *desired.VirtualServer) { vs.Family = ipvs.IPv6 },
		"zone": func(vs *desired.VirtualServer) {
			vs.Address = netip.MustParseAddr("fe80::1%eth0")
			vs.Family = ipvs.IPv6
		},
		"mapped": func(vs *desired.VirtualServer) {
			vs.Address = netip.MustParseAddr("::ffff:10.0.0.1")
			vs.Family = ipvs.IPv6
		},
		"netmask":         func(vs *desired.VirtualServer) { vs.Timeout, vs.Netmask = 60, 33 },
		"protocol":        func(vs *desired.VirtualServer) { vs.Protocol = 0 },
		"negative weight": func(vs *desired.VirtualServer) { vs.Destinations[0].Weight = -1 },
		"huge weight":     func(vs *desired.VirtualServer) { vs.Destinations[0].Weight = math.MaxInt32 + 1 },
		"thresholds": func(vs *desired.VirtualServer) {
			vs.Destinations[0].UpperThreshold, vs.Destinations[0].LowerThreshold = 1, 2
		},
		"real server port 0": func(vs *desired.VirtualServer) { vs.Destinations[0].Port = 0 },
		"real server family": func(vs *desired.VirtualServer) {
			vs.Destinations[0].Address = netip.MustParseAddr("2001:db8::1")
		},
		"twice": func(vs *desired.VirtualServer) { vs.Destinations = append(vs.Destinations, vs.Destinations[0]) },
	} {
		vs := good
		vs.Destinations = slices.Clone(good.Destinations)
		mod(&vs)
		if err := checkKernelTakes([]desired.VirtualServer{vs}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// checkKernelTakes reports a virtual server the kernel would refuse to
// add, with what IPVS checks beyond desired.ValidateNormalized: a known
// scheduler, port 0 only for a firewall-mark or persistent service, a
// persistence netmask within the family, weights that fit the kernel's
// int32, thresholds in order. (The same key twice is not the kernel's
// business: State.Set keeps the last.)
func checkKernelTakes(vss []desired.VirtualServer) error {
	for _, vs := range vss {
		n := vs.Normalize()
		if err := n.ValidateNormalized(); err != nil {
			return err
		}
		k := n.Key.Canonical()
		if !slices.Contains(ipvs.Schedulers, n.Scheduler) {
			return fmt.Errorf("virtual server %s: unknown scheduler %q", k, n.Scheduler)
		}
		persistent := n.Flags&ipvs.FlagPersistent != 0 || n.Timeout != 0
		if !k.IsFWMark() && k.Port == 0 && !persistent {
			return fmt.Errorf("virtual server %s: port 0 on a service that is neither a firewall mark nor persistent", k)
		}
		if k.IsFWMark() && k.FWMark == 0 {
			return fmt.Errorf("virtual server %s: firewall mark 0", k)
		}
		if max := map[ipvs.Family]uint8{ipvs.IPv4: 32, ipvs.IPv6: 128}[k.Family]; n.Netmask > max {
			return fmt.Errorf("virtual server %s: persistence netmask /%d", k, n.Netmask)
		}
		if k.Address.IsValid() && k.Address.Is4In6() {
			return fmt.Errorf("virtual server %s: IPv4-mapped address", k)
		}
		for _, d := range n.Destinations {
			if d.Weight > math.MaxInt32 {
				return fmt.Errorf("virtual server %s: real server %s: weight %d overflows the kernel's", k, d.DestKey, d.Weight)
			}
			if d.LowerThreshold > d.UpperThreshold && d.UpperThreshold != 0 {
				return fmt.Errorf("virtual server %s: real server %s: lower threshold above upper", k, d.DestKey)
			}
			if !k.IsFWMark() && d.Port == 0 {
				return fmt.Errorf("virtual server %s: real server %s: port 0", k, d.DestKey)
			}
		}
	}
	return nil
}

// fuzzInput hands out values from the fuzzer's bytes; once they run out
// every value is the zero choice, so any input is a complete object.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) intn(n int) int { return int(in.byte()) % n }
func (in *fuzzInput) bool() bool     { return in.byte()&1 == 1 }

// raw is a short string straight from the bytes.
func (in *fuzzInput) raw() string {
	n := min(in.intn(24), len(in.b))
	s := string(in.b[:n])
	in.b = in.b[n:]
	return s
}

// pick is one of pool, or now and then raw bytes.
func (in *fuzzInput) pick(pool ...string) string {
	i := in.intn(len(pool) + 1)
	if i == len(pool) {
		return in.raw()
	}
	return pool[i]
}

// int32 is one of the interesting numbers, or four raw bytes.
func (in *fuzzInput) int32(pool ...int32) int32 {
	i := in.intn(len(pool) + 1)
	if i < len(pool) {
		return pool[i]
	}
	var b [4]byte
	for j := range b {
		b[j] = in.byte()
	}
	return int32(binary.BigEndian.Uint32(b[:]))
}

func (in *fuzzInput) list(max int, f func() string) []string {
	var out []string
	for n := in.intn(max + 1); n > 0; n-- {
		out = append(out, f())
	}
	return out
}

var (
	fuzzAddrs = []string{"10.96.0.1", "10.96.0.2", "2001:db8::1", "10.0.0.1", "10.0.0.2", "2001:db8:1::2",
		"192.168.1.10", "::ffff:10.0.0.1", "0.0.0.0", "::", "fe80::1%eth0", "255.255.255.255", "127.0.0.1", "::1", "", " 10.0.0.3 ", "None"}
	fuzzV4        = []string{"10.96.0.1", "10.96.0.2", "10.0.0.1"}
	fuzzV6        = []string{"2001:db8::1", "fd00::10", "2001:db8:1::2"}
	fuzzExternal  = []string{"192.0.2.1", "10.96.0.1", "10.0.0.1", "2001:db8::1", "2001:db8:2::1", "198.51.100.7", ""}
	fuzzPorts     = []int32{80, 443, 53, 1, 65535, 0, -1, 65536, 70000, 30080, 8080}
	fuzzProtocols = []string{"TCP", "UDP", "SCTP", "", "tcp", "ICMP"}
	fuzzNames     = []string{"http", "dns", "", "metrics"}
	fuzzNodeAddrs = []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.1.11"), netip.MustParseAddr("2001:db8::10")}
)

func (in *fuzzInput) addr() string { return in.pick(fuzzAddrs...) }

func (in *fuzzInput) boolPtr() *bool {
	switch in.intn(3) {
	case 0:
		return nil
	case 1:
		return new(true)
	}
	return new(false)
}

// service is a Service as the API server could have accepted it: the
// fields it validates (cluster IPs, one per family; ports 1-65535, each
// port and protocol once; node ports; external and load-balancer IPs;
// the affinity timeout) stay within its rules, since Translate only ever
// sees such objects. What it does not validate (annotations, the
// traffic distribution) is fuzzed freely.
func (in *fuzzInput) service() *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "uid", Annotations: map[string]string{}}}
	sp := &s.Spec
	sp.Type = corev1.ServiceType([]string{"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}[in.intn(4)])
	switch in.intn(6) {
	case 0:
		sp.ClusterIP = corev1.ClusterIPNone
	case 1:
		sp.ClusterIPs = []string{in.pick(fuzzV4...)}
	case 2:
		sp.ClusterIPs = []string{in.pick(fuzzV6...)}
	case 3:
		sp.ClusterIPs = []string{in.pick(fuzzV6...), in.pick(fuzzV4...)}
	default:
		sp.ClusterIPs = []string{in.pick(fuzzV4...), in.pick(fuzzV6...)}
	}
	if len(sp.ClusterIPs) > 0 {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
	seen := map[corev1.ServicePort]bool{}
	count := in.intn(4)
	for range count {
		p := corev1.ServicePort{Protocol: corev1.Protocol([]string{"TCP", "UDP", "SCTP"}[in.intn(3)]), Port: in.port(80, 443, 53, 1, 65535)}
		if key := (corev1.ServicePort{Protocol: p.Protocol, Port: p.Port}); !seen[key] {
			seen[key] = true
			// Names are unique, and only a lone port may have none.
			p.Name = []string{"http", "dns", "metrics"}[len(sp.Ports)]
			if count == 1 && in.bool() {
				p.Name = ""
			}
			if sp.Type == corev1.ServiceTypeNodePort || sp.Type == corev1.ServiceTypeLoadBalancer {
				p.NodePort = in.port(30080, 32767, 30000)
			}
			sp.Ports = append(sp.Ports, p)
		}
	}
	sp.ExternalIPs = in.list(2, func() string { return in.pick(fuzzExternal...) })
	for n := in.intn(3); n > 0; n-- {
		ing := corev1.LoadBalancerIngress{IP: in.pick(fuzzExternal...)}
		if in.bool() {
			ing.IPMode = new(corev1.LoadBalancerIPMode([]string{"VIP", "Proxy"}[in.intn(2)]))
		}
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, ing)
	}
	sp.LoadBalancerSourceRanges = in.list(2, func() string { return in.pick("10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32") })
	sp.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy([]string{"Cluster", "Local"}[in.intn(2)])
	if in.bool() {
		sp.InternalTrafficPolicy = new(corev1.ServiceInternalTrafficPolicy([]string{"Cluster", "Local"}[in.intn(2)]))
	}
	if sp.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && in.bool() {
		sp.HealthCheckNodePort = in.port(30000, 32767)
	}
	if in.bool() {
		sp.SessionAffinity = corev1.ServiceAffinityClientIP
		if in.bool() {
			sp.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(1 + in.int32(0, 86399, 10799)%86400)}}
		}
	}
	if in.bool() {
		s.Annotations[AnnotationScheduler] = in.pick(append(slices.Clone(ipvs.Schedulers), " sh ", "bogus", "")...)
	}
	if in.bool() {
		s.Annotations[AnnotationSchedulerFlags] = in.pick("sh-port,sh-fallback", "mh-port", "ops", "", ",", "bogus")
	}
	if in.bool() {
		sp.TrafficDistribution = new(in.pick("PreferClose", "PreferSameZone", "PreferSameNode"))
	}
	return s
}

// port is one of pool or any valid port number.
func (in *fuzzInput) port(pool ...int32) int32 {
	p := in.int32(pool...)
	if p < 0 {
		p = -(p + 1)
	}
	return 1 + p%65535
}

func (in *fuzzInput) slices() []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for n := in.intn(4); n > 0; n-- {
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("web-%d", n), Annotations: map[string]string{}},
			AddressType: discoveryv1.AddressType(in.pick("IPv4", "IPv6", "FQDN")),
		}
		if in.bool() {
			s.Annotations[corev1.EndpointsLastChangeTriggerTime] = in.pick(time.Unix(1e9, 0).UTC().Format(time.RFC3339Nano), "yesterday")
		}
		for m := in.intn(3); m > 0; m-- {
			p := discoveryv1.EndpointPort{}
			if in.bool() {
				p.Name = new(in.pick(fuzzNames...))
			}
			if in.bool() {
				p.Protocol = new(corev1.Protocol(in.pick(fuzzProtocols...)))
			}
			if in.intn(4) != 0 {
				p.Port = new(in.int32(fuzzPorts...))
			}
			s.Ports = append(s.Ports, p)
		}
		for m := in.intn(5); m > 0; m-- {
			e := discoveryv1.Endpoint{
				Addresses:  in.list(2, in.addr),
				Conditions: discoveryv1.EndpointConditions{Ready: in.boolPtr(), Serving: in.boolPtr(), Terminating: in.boolPtr()},
			}
			if in.bool() {
				e.NodeName = new(in.pick("node-a", "node-b", ""))
			}
			if in.bool() {
				e.Hints = &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: in.pick("zone-a", "zone-b")}}}
				if in.bool() {
					e.Hints.ForNodes = []discoveryv1.ForNode{{Name: in.pick("node-a", "node-b")}}
				}
			}
			s.Endpoints = append(s.Endpoints, e)
		}
		out = append(out, s)
	}
	return out
}

// node is this node; its node-port addresses are parsed already (the
// caller resolves them from --nodeport-addresses), so they are valid.
func (in *fuzzInput) node() *Node {
	n := &Node{Name: in.pick("node-a", ""), Zone: in.pick("zone-a", "")}
	for m := in.intn(3); m > 0; m-- {
		n.NodePortAddresses = append(n.NodePortAddresses, fuzzNodeAddrs[in.intn(len(fuzzNodeAddrs))])
	}
	return n
}

// options are daemon-wide settings, validated at start-up: the default
// scheduler is always a known one.
func (in *fuzzInput) options() *Options {
	return &Options{Scheduler: ipvs.Schedulers[in.intn(len(ipvs.Schedulers))], DrainTimeout: time.Duration(in.intn(3)-1) * time.Minute}
}

// marker gives marks, or runs out of them.
func (in *fuzzInput) marker() Marker {
	if in.intn(4) == 0 {
		return fixedMarks(0)
	}
	return NewMarks(0x4000, 0x4fff).Session("ns/web")
}

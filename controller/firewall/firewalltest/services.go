package firewalltest

import (
	"fmt"
	"net/netip"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Services is a firewall state of n IPv4 services, one owner each
// ("ns/svc-<i>"), with every kind of entry and with elements owners share:
// cluster IPs on port 80, every 10th without endpoints, every 50th a load
// balancer with two source ranges (one holding the node's address), every
// 20th with a local-only node port and its firewall mark (every other one
// without local endpoints), every 7th a second port on the previous
// service's VIP, every 100th a hairpin whose backend the next service
// shares.
func Services(n int) firewall.State {
	s := firewall.State{
		Options: firewall.Desired{
			ClusterCIDRs:  []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
			NodePortCIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32")},
			NodeAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.10")},
		},
		Parts: make(map[string]firewall.Part, n),
	}
	for i := range n {
		s.Parts[Owner(i)] = ServicePart(i)
	}
	return s
}

// Owner is the owner of Services' i-th service.
func Owner(i int) string { return fmt.Sprintf("ns/svc-%d", i) }

// ServicePart is the i-th service of Services.
func ServicePart(i int) firewall.Part {
	vip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
	vs := firewall.VirtualServer{
		Key:          ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 80},
		Kind:         firewall.ClusterIP,
		HasEndpoints: i%10 != 0,
	}
	if i%7 == 6 {
		// Another port of the previous service's VIP: the vips entry
		// is shared.
		vs.Key.Address, vs.Key.Port = netip.AddrFrom4([4]byte{10, 96, byte((i - 1) >> 8), byte(i - 1)}), 443
	}
	if i%50 == 0 {
		vs.Kind = firewall.LoadBalancerIP
		vs.Key.Address = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		vs.SourceRanges = []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("203.0.%d.0/24", i%256)), netip.MustParsePrefix("192.0.2.0/24")}
	}
	p := firewall.Part{Services: []firewall.VirtualServer{vs}}
	if i%20 == 0 {
		p.Services = append(p.Services, firewall.VirtualServer{
			Key:  ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.UDP, Port: uint16(30000 + i/20)},
			Kind: firewall.NodePort, HasEndpoints: true, LocalOnly: true,
			LocalFWMark: 0x1000 + uint32(i/20), HasLocalEndpoints: i%40 == 0,
		})
	}
	if i%100 <= 1 {
		b := i - i%100
		p.Hairpins = []firewall.Hairpin{{Backend: netip.AddrFrom4([4]byte{10, 244, byte(b >> 8), byte(b)}), Protocol: ipvs.TCP, Port: 8080}}
	}
	return p
}

// OneService is Services(n) without and with one more service, "ns/new",
// and the updates that add and remove it: what the benchmarks of a
// one-service change apply.
type OneService struct {
	Without, With firewall.State
	Add, Del      firewall.Update
}

// NewService is the OneService of Services(n) and extra, the new part.
func NewService(n int, extra firewall.Part) OneService {
	o := OneService{Without: Services(n)}
	o.Add = firewall.Update{Options: o.Without.Options, Parts: map[string]firewall.Part{"ns/new": extra}}
	o.Del = firewall.Update{Options: o.Without.Options, Parts: map[string]firewall.Part{"ns/new": {}}}
	o.With.Apply(o.Without.Whole())
	o.With.Apply(o.Add)
	return o
}

package firewall

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/ipvsd/ipvsd/internal/golden"
	"github.com/ipvsd/ipvsd/ipvs"
)

func key(addr string, p ipvs.Protocol, port uint16) ipvs.Key {
	a := netip.MustParseAddr(addr)
	return ipvs.Key{Family: ipvs.FamilyOf(a), Address: a, Protocol: p, Port: port}
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// sample covers every kind and flag in both families.
func sample() Desired {
	return Desired{
		Services: []VirtualServer{
			{Key: key("10.96.0.10", ipvs.UDP, 53), Kind: ClusterIP, HasEndpoints: true},
			{Key: key("10.96.0.10", ipvs.TCP, 53), Kind: ClusterIP, HasEndpoints: true},
			{Key: key("10.96.0.20", ipvs.TCP, 80), Kind: ClusterIP},
			{Key: key("192.0.2.10", ipvs.TCP, 443), Kind: ExternalIP, HasEndpoints: true, LocalOnly: true,
				LocalFWMark: 0x1001, HasLocalEndpoints: true},
			{Key: key("198.51.100.7", ipvs.TCP, 443), Kind: LoadBalancerIP, HasEndpoints: true,
				SourceRanges: prefixes("203.0.113.0/24", "10.1.2.3/16")},
			{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: 30080}, Kind: NodePort, HasEndpoints: true},
			{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.SCTP, Port: 30090}, Kind: NodePort, LocalOnly: true},
			// Endpoints elsewhere only: outside traffic is dropped.
			{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.UDP, Port: 30091}, Kind: NodePort, HasEndpoints: true,
				LocalOnly: true, LocalFWMark: 0x2abc},
			{Key: key("fd00:96::10", ipvs.TCP, 80), Kind: ClusterIP, HasEndpoints: true},
			{Key: key("2001:db8::7", ipvs.TCP, 443), Kind: LoadBalancerIP, HasEndpoints: true,
				SourceRanges: prefixes("::/0"), LocalOnly: true, LocalFWMark: 0x3fff, HasLocalEndpoints: true},
			{Key: ipvs.Key{Family: ipvs.IPv6, Protocol: ipvs.UDP, Port: 30053}, Kind: NodePort},
		},
		ClusterCIDRs:  prefixes("10.244.0.0/16", "fd00:244::/56"),
		NodePortCIDRs: prefixes("192.168.1.10/32", "172.16.0.0/12", "2001:db8:1::10/128"),
		// 10.1.7.7 lies in a source range of 198.51.100.7; ::/0 holds
		// every IPv6 node address.
		NodeAddresses: []netip.Addr{netip.MustParseAddr("10.1.7.7"), netip.MustParseAddr("2001:db8:1::10")},
		Hairpins: []Hairpin{
			{Backend: netip.MustParseAddr("10.244.1.5"), Protocol: ipvs.TCP, Port: 8080},
			{Backend: netip.MustParseAddr("fd00:244::5"), Protocol: ipvs.TCP, Port: 8080},
		},
	}
}

// checkGolden compares got with its file under testdata/ (see internal/golden).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

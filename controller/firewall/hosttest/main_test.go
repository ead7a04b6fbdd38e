package hosttest

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Every command below, ours and the test's, runs in the private namespace:
// the re-executed binary is in it, and children inherit it.
func TestMain(m *testing.M) { os.Exit(nettest.RunIsolated(m)) }

// podPool is Calico's IPAM pool of each family: sample's cluster CIDRs.
var podPool = map[ipvs.Family]netip.Prefix{
	ipvs.IPv4: netip.MustParsePrefix("10.244.0.0/16"),
	ipvs.IPv6: netip.MustParsePrefix("fd00:244::/56"),
}

func ipsetNames(t testing.TB) []string {
	return strings.Fields(firewalltest.Sh(t, "", "ipset", "list", "-n"))
}

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

func sample() firewall.Desired {
	return firewall.Desired{
		Services: []firewall.VirtualServer{
			{Key: key("10.96.0.10", ipvs.UDP, 53), Kind: firewall.ClusterIP, HasEndpoints: true},
			{Key: key("10.96.0.20", ipvs.TCP, 80), Kind: firewall.ClusterIP},
			{Key: key("198.51.100.7", ipvs.TCP, 443), Kind: firewall.LoadBalancerIP, HasEndpoints: true,
				SourceRanges: prefixes("203.0.113.0/24")},
			{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: 30080}, Kind: firewall.NodePort, HasEndpoints: true, LocalOnly: true,
				LocalFWMark: 0x1001, HasLocalEndpoints: true},
			{Key: key("192.0.2.10", ipvs.TCP, 443), Kind: firewall.ExternalIP, HasEndpoints: true, LocalOnly: true,
				LocalFWMark: 0x2002},
			{Key: key("fd00:96::10", ipvs.TCP, 80), Kind: firewall.ClusterIP, HasEndpoints: true},
			{Key: ipvs.Key{Family: ipvs.IPv6, Protocol: ipvs.SCTP, Port: 30090}, Kind: firewall.NodePort},
		},
		ClusterCIDRs:  prefixes("10.244.0.0/16", "fd00:244::/56"),
		NodePortCIDRs: prefixes("192.168.1.10/32", "2001:db8:1::/64", "0.0.0.0/0"),
		Hairpins: []firewall.Hairpin{
			{Backend: netip.MustParseAddr("10.244.1.5"), Protocol: ipvs.TCP, Port: 8080},
		},
	}
}

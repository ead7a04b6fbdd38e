package hosttest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Every command below, ours and the test's, runs in the private namespace:
// the re-executed binary is in it, and children inherit it.
func TestMain(m *testing.M) { os.Exit(nettest.RunIsolated(m)) }

func sh(t testing.TB, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func tool(m firewall.Mode, f ipvs.Family, suffix string) string {
	name := "iptables-" + string(m)
	if f == ipvs.IPv6 {
		name = "ip6tables-" + string(m)
	}
	if suffix != "" {
		name += "-" + suffix
	}
	return name
}

var (
	declCounters = regexp.MustCompile(`\[\d+:\d+\]$`)
)

// saveAll is every table we own chains in, of one family, without the dated comment lines
// and with chain counters zeroed, so two snapshots compare as text.
func saveAll(t testing.TB, m firewall.Mode, f ipvs.Family) string {
	var b strings.Builder
	for _, table := range []string{"nat", "filter", "mangle"} {
		for _, l := range strings.Split(sh(t, "", tool(m, f, "save"), "-t", table), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			b.WriteString(declCounters.ReplaceAllString(l, "[0:0]") + "\n")
		}
	}
	return b.String()
}

// split separates our lines from everyone else's.
func split(save string) (ours, others string) {
	var o, e strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(save, "\n"), "\n") {
		if firewall.IsOurLine(l) {
			o.WriteString(l + "\n")
		} else {
			e.WriteString(l + "\n")
		}
	}
	return o.String(), e.String()
}

// calico installs a ruleset shaped like Calico's: its own chains reached
// by a jump at position 1 of every built-in chain, a default-DROP FORWARD,
// and ipsets its rules match. It is removed in t.Cleanup.
func calico(t *testing.T, m firewall.Mode, f ipvs.Family) {
	v := "4"
	pools, all := "10.244.0.0/16", "10.244.0.0/16"
	if f == ipvs.IPv6 {
		v, pools, all = "6", "fd00:244::/56", "fd00:244::/56"
	}
	fam := map[string]string{"4": "inet", "6": "inet6"}[v]
	sets := []string{"cali" + v + "0masq-ipam-pools", "cali" + v + "0all-ipam-pools", "cali" + v + "0all-hosts-net"}
	var script strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&script, "create %s hash:net family %s\n", s, fam)
	}
	fmt.Fprintf(&script, "add %s %s\nadd %s %s\n", sets[0], pools, sets[1], all)
	sh(t, script.String(), "ipset", "restore", "-exist")

	rules := fmt.Sprintf(`*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:cali-OUTPUT - [0:0]
:cali-POSTROUTING - [0:0]
:cali-PREROUTING - [0:0]
:cali-fip-dnat - [0:0]
:cali-nat-outgoing - [0:0]
-A PREROUTING -m comment --comment "cali:test-prerouting" -j cali-PREROUTING
-A OUTPUT -m comment --comment "cali:test-output" -j cali-OUTPUT
-A POSTROUTING -m comment --comment "cali:test-postrouting" -j cali-POSTROUTING
-A POSTROUTING -o lo -j RETURN
-A cali-OUTPUT -j cali-fip-dnat
-A cali-POSTROUTING -j cali-nat-outgoing
-A cali-PREROUTING -j cali-fip-dnat
-A cali-nat-outgoing -m set --match-set %[1]s src -m set ! --match-set %[2]s dst -j MASQUERADE --random-fully
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:cali-FORWARD - [0:0]
:cali-INPUT - [0:0]
:cali-OUTPUT - [0:0]
-A INPUT -m comment --comment "cali:test-input" -j cali-INPUT
-A INPUT -i lo -j ACCEPT
-A FORWARD -m comment --comment "cali:test-forward" -j cali-FORWARD
-A OUTPUT -m comment --comment "cali:test-output" -j cali-OUTPUT
-A cali-FORWARD -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-FORWARD -m set --match-set %[2]s src -j MARK --set-xmark 0x10000/0x10000
-A cali-INPUT -p udp -m udp --dport 4789 -m set --match-set %[3]s src -j ACCEPT
-A cali-OUTPUT -m mark --mark 0x10000/0x10000 -j ACCEPT
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:cali-PREROUTING - [0:0]
-A PREROUTING -m comment --comment "cali:test-mangle" -j cali-PREROUTING
-A cali-PREROUTING -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-PREROUTING -m mark --mark 0x10000/0x10000 -j ACCEPT
COMMIT
`, sets[0], sets[1], sets[2])
	sh(t, rules, tool(m, f, "restore"))
	t.Cleanup(func() {
		// A restore without --noflush empties the tables it names and
		// deletes their user chains.
		sh(t, "*nat\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*mangle\nCOMMIT\n", tool(m, f, "restore"))
		for _, s := range sets {
			sh(t, "", "ipset", "destroy", s)
		}
	})
}

func ipsetNames(t testing.TB) []string { return strings.Fields(sh(t, "", "ipset", "list", "-n")) }

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

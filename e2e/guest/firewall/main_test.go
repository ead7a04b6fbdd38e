//go:build lab

// Package firewall sends real traffic through IPVS and controller/firewall
// in the lab VM, next to a Calico-like ruleset (FORWARD policy DROP) that
// must come out byte-for-byte untouched: masquerade decisions seen from the
// backend, hairpin, NodePort on selected addresses, load-balancer source
// ranges, rejection of a VIP's other ports and of services without real
// servers, externalTrafficPolicy: Local through firewall marks, in both
// iptables back-ends.
package firewall

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

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

func tool(m firewall.Mode, suffix string) string {
	if suffix == "" {
		return "iptables-" + string(m)
	}
	return "iptables-" + string(m) + "-" + suffix
}

var declCounters = regexp.MustCompile(`\[\d+:\d+\]$`)

// saveAll is the IPv4 nat, filter and mangle tables without the dated
// comments and with counters zeroed (traffic moves them), so snapshots
// compare as text.
func saveAll(t testing.TB, m firewall.Mode) string {
	var b strings.Builder
	for _, table := range []string{"nat", "filter", "mangle"} {
		for _, l := range strings.Split(sh(t, "", tool(m, "save"), "-t", table), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			b.WriteString(declCounters.ReplaceAllString(l, "[0:0]") + "\n")
		}
	}
	return b.String()
}

// others drops our lines, keeping everyone else's.
func others(save string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(save, "\n"), "\n") {
		if !firewall.IsOurLine(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// calicoRules is shaped like Calico's IPv4 ruleset (a smaller copy of the
// one controller/firewall/hosttest uses): its chains reached by a jump at
// position 1 of each built-in chain, pod-to-outside masquerade on its IPAM
// pool, a FORWARD policy of DROP that accepts only what Calico itself
// marked, and a mangle PREROUTING that accepts established traffic first
// (so rules placed after it see only a connection's first packets). %[1]s
// is the masquerade pool set, %[2]s all pools, %[3]s hosts.
const calicoRules = `*nat
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
`

// calico installs the Calico-like ruleset in mode m and its ipsets, with
// the pod pool set to pool, and removes them in t.Cleanup. Calico's
// FORWARD marks pod traffic but accepts only on a later pass, so with
// nothing else the default DROP policy applies to forwarded packets.
func calico(t *testing.T, m firewall.Mode, pool string) {
	t.Helper()
	sets := []string{"cali40masq-ipam-pools", "cali40all-ipam-pools", "cali40all-hosts-net"}
	var script strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&script, "create %s hash:net family inet\n", s)
	}
	fmt.Fprintf(&script, "add %s %s\nadd %s %s\n", sets[0], pool, sets[1], pool)
	sh(t, script.String(), "ipset", "restore", "-exist")
	sh(t, fmt.Sprintf(calicoRules, sets[0], sets[1], sets[2]), tool(m, "restore"))
	t.Cleanup(func() {
		// A restore without --noflush empties the tables it names and
		// deletes their user chains.
		sh(t, "*nat\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*mangle\nCOMMIT\n", tool(m, "restore"))
		for _, s := range sets {
			sh(t, "", "ipset", "destroy", s)
		}
	})
}

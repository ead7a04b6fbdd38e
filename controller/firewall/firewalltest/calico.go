package firewalltest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// calicoRules is shaped like Calico's ruleset: its chains reached by a
// jump at position 1 of each built-in chain, pod-to-outside masquerade on
// its IPAM pool, a FORWARD policy of DROP that accepts only what Calico
// itself marked, and a mangle PREROUTING that accepts established traffic
// first (so rules placed after it see only a connection's first packets).
// %[1]s is the masquerade pool set, %[2]s all pools, %[3]s hosts.
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

// calico is the fixture for a pod pool: its family, its sets, the ipset
// script that creates them (the pool in both pool sets) and the rules.
func calico(pool netip.Prefix) (f ipvs.Family, sets []string, script, rules string) {
	f = ipvs.FamilyOf(pool.Addr())
	v, fam := "4", "inet"
	if f == ipvs.IPv6 {
		v, fam = "6", "inet6"
	}
	sets = []string{"cali" + v + "0masq-ipam-pools", "cali" + v + "0all-ipam-pools", "cali" + v + "0all-hosts-net"}
	var b strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&b, "create %s hash:net family %s\n", s, fam)
	}
	fmt.Fprintf(&b, "add %s %s\nadd %s %s\n", sets[0], pool, sets[1], pool)
	return f, sets, b.String(), fmt.Sprintf(calicoRules, sets[0], sets[1], sets[2])
}

// Calico installs the Calico-like ruleset in back-end m, in the family of
// the pod pool, with the ipsets its rules match (the pool in both pool
// sets), and removes both in t.Cleanup. Calico's FORWARD marks pod traffic
// but accepts only on a later pass, so with nothing else the default DROP
// policy applies to forwarded packets.
func Calico(t testing.TB, m firewall.Mode, pool netip.Prefix) {
	t.Helper()
	f, sets, script, rules := calico(pool)
	Sh(t, script, "ipset", "restore", "-exist")
	restore, args := Multi(m, f, "restore")
	Sh(t, rules, restore, args...)
	t.Cleanup(func() {
		// A restore without --noflush empties the tables it names and
		// deletes their user chains.
		Sh(t, "*nat\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*mangle\nCOMMIT\n", restore, args...)
		for _, s := range sets {
			Sh(t, "", "ipset", "destroy", s)
		}
	})
}

// Calico installs the Calico-like ruleset and sets in the fake, as the
// package's Calico does in a real namespace.
func (h *Host) Calico(t testing.TB, m firewall.Mode, pool netip.Prefix) {
	t.Helper()
	f, _, script, rules := calico(pool)
	if err := h.IPSet().Script(script, false); err != nil {
		t.Fatal(err)
	}
	if err := h.IPTables(m, f).Replace(rules); err != nil {
		t.Fatal(err)
	}
}

package firewall

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// ChainPrefix starts the name of every chain we own.
const ChainPrefix = "IPVSD-"

// Chain is one of our chains and its rules, each rule written exactly as
// iptables-save prints it after "-A <chain> ", so that what we render and
// what the kernel reports compare as text.
type Chain struct {
	Name  string
	Rules []string
}

// Jump is our single rule in a built-in chain: "-j <To>" in <From>.
type Jump struct {
	From, To string
}

func (j Jump) rule() string { return "-A " + j.From + " -j " + j.To }

// Table is what we own in one iptables table.
type Table struct {
	Name   string
	Chains []Chain // sorted by name
	Jumps  []Jump  // in the order iptables-save lists built-in chains
}

// Ruleset is the complete, constant ruleset of one family.
type Ruleset struct {
	Family ipvs.Family
	Tables []Table // in tableNames order
}

// tableNames are the tables we own chains in, in Ruleset order.
var tableNames = []string{"nat", "filter", "mangle"}

// RenderOptions are facts about the host that change the rules' text.
type RenderOptions struct {
	// RandomFully adds --random-fully to MASQUERADE (iptables >= 1.6.2 and
	// a kernel with NF_NAT_RANGE_PROTO_RANDOM_FULLY). It avoids the
	// source-port collisions that make SNATed connections fail under load.
	RandomFully bool
}

// Render computes the ruleset for one family. The number of rules depends
// only on d's options (mark bits, MasqueradeAll, whether cluster CIDRs
// exist), never on its services: those live in the sets.
func Render(d *Desired, f ipvs.Family, o RenderOptions) Ruleset {
	set := func(role string) string { return SetName(role, f) }
	masq := fmt.Sprintf("0x%x", d.masqMark())
	drop := fmt.Sprintf("0x%x", d.dropMark())
	icmp, unreachable := "icmp", "icmp-port-unreachable"
	if f == ipvs.IPv6 {
		icmp, unreachable = "ipv6-icmp", "icmp6-port-unreachable"
	}
	match := func(role, dirs string) string { return "-m set --match-set " + set(role) + " " + dirs }
	notMatch := func(role, dirs string) string { return "-m set ! --match-set " + set(role) + " " + dirs }
	isNew := "-m conntrack --ctstate NEW"
	// A denied (load-balancer VIP, port, source) triple.
	denied := match(roleLBFirewall, "dst,dst") + " " + notMatch(roleLBSource, "dst,dst,src")

	// Traffic arriving from elsewhere (remote clients, pods).
	external := []string{
		// Tag the connection so FORWARD recognises its replies, which
		// cross FORWARD before IPVS rewrites them.
		"-j CONNMARK --set-xmark " + masq + "/" + masq,
		// A local-only traffic policy keeps the client address.
		match(roleVSLocal, "dst,dst") + " -j RETURN",
		match(roleNPLocal, "dst,dst") + " -j RETURN",
	}
	// outside selects traffic from outside the cluster. Without cluster
	// CIDRs we cannot tell pods from the world: nothing is masqueraded
	// for its source alone, and everything arriving from elsewhere (as
	// opposed to the node's own traffic, which never crosses
	// PREROUTING) counts as outside for local firewall marks.
	outside := ""
	switch {
	case d.LocalInterface != "":
		outside = "! -i " + d.LocalInterface + " "
	case len(d.ClusterCIDRs) > 0:
		outside = notMatch(roleCluster, "src") + " "
	}
	switch {
	case d.MasqueradeAll:
		external = append(external, "-j IPVSD-MARK-MASQ")
	case outside != "":
		external = append(external, outside+"-j IPVSD-MARK-MASQ")
	}
	masqTarget := "-j MASQUERADE"
	if o.RandomFully {
		masqTarget += " --random-fully"
	}

	// nat chains see a connection's first packet only, but that is the
	// packet whose latency a client feels. IPVSD-EXTERNAL and
	// IPVSD-MARK-MASQ give a packet the same result however often they
	// run (they set bits or return), so a service address goes (-g)
	// there and skips the node-port lookup behind it: a VIP that is
	// also a node port would only run them a second time.
	nat := Table{Name: "nat", Chains: []Chain{
		{"IPVSD-PREROUTING", []string{
			match(roleVS, "dst,dst") + " -g IPVSD-EXTERNAL",
			match(roleNodePorts, "dst,dst") + " -j IPVSD-EXTERNAL",
		}},
		{"IPVSD-EXTERNAL", external},
		// The node's own traffic: nat OUTPUT is the last hook that sees
		// the VIP before IPVS schedules the packet in LOCAL_OUT, and nat
		// cannot drop, so a denied source is marked here and dropped in
		// filter OUTPUT. By then IPVS has stolen the packet and sent its
		// rewritten copy through LOCAL_OUT again (ip_vs_nat_xmit), so
		// the drop hits the copy and connect() gets no EPERM: the
		// node's denied connection times out, like a remote one. The
		// node's source is usually the VIP itself, which DesiredSets
		// admits when a range holds a node address. The node's traffic
		// is always masqueraded: its source is often the VIP itself (the
		// local route's src), which the real server could not answer.
		{"IPVSD-OUTPUT", []string{
			denied + " -j MARK --set-xmark " + drop + "/" + drop,
			match(roleVS, "dst,dst") + " -g IPVSD-MARK-MASQ",
			match(roleNodePorts, "dst,dst") + " -j IPVSD-MARK-MASQ",
		}},
		{"IPVSD-MARK-MASQ", []string{"-j MARK --set-xmark " + masq + "/" + masq}},
		{"IPVSD-POSTROUTING", []string{
			// After IPVS rewrote the destination, a real server
			// talking to itself is a hairpin.
			match(roleHairpin, "dst,dst,src") + " -j IPVSD-MASQ",
			"-m mark --mark " + masq + "/" + masq + " -j IPVSD-MASQ",
		}},
		{"IPVSD-MASQ", []string{
			// Clear the bit so a packet that traverses POSTROUTING
			// again (after encapsulation) is not masqueraded twice.
			"-j MARK --set-xmark 0x0/" + masq,
			masqTarget,
		}},
	}, Jumps: []Jump{
		{"PREROUTING", "IPVSD-PREROUTING"},
		{"OUTPUT", "IPVSD-OUTPUT"},
		{"POSTROUTING", "IPVSD-POSTROUTING"},
	}}

	filter := Table{Name: "filter", Chains: []Chain{
		// filter INPUT runs before IPVS's LOCAL_IN hook, so it sees the
		// VIP of remote and pod traffic.
		{"IPVSD-INPUT", []string{
			denied + " -j DROP",
			isNew + " " + match(roleVSNoEP, "dst,dst") + " -j IPVSD-REJECT",
			isNew + " " + match(roleNPNoEP, "dst,dst") + " -j IPVSD-REJECT",
			// Outside traffic to a local-only destination with no
			// local endpoint, marked in mangle PREROUTING: dropped,
			// not rejected, so the load balancer's health check
			// decides where clients go. After the rejects: a
			// service with no endpoint at all still refuses.
			"-m mark --mark " + drop + "/" + drop + " -j DROP",
			// Accept service traffic here so a default-DROP INPUT
			// policy does not starve IPVS. Every packet to a VIP
			// needs it; it comes before the VIP reject, which only
			// takes what is not a service (the two are disjoint), so
			// a new connection to a service meets one lookup here
			// instead of three.
			match(roleVS, "dst,dst") + " -j ACCEPT",
			// A VIP is not the node: host daemons listening on
			// 0.0.0.0 must not answer on every service address.
			// Service traffic was accepted above. Before the
			// node-port accept: a VIP inside a node-port CIDR is
			// still not a node port.
			"! -p " + icmp + " " + isNew + " " + match(roleVIPs, "dst") + " -j IPVSD-REJECT",
			match(roleNodePorts, "dst,dst") + " -j ACCEPT",
		}},
		{"IPVSD-REJECT", []string{
			"-p tcp -j REJECT --reject-with tcp-reset",
			"-j REJECT --reject-with " + unreachable,
		}},
		{"IPVSD-FORWARD", []string{
			"-m mark --mark " + masq + "/" + masq + " -j ACCEPT",
			// Replies of IPVS connections (see IPVSD-EXTERNAL).
			"-m connmark --mark " + masq + "/" + masq + " -j ACCEPT",
		}},
		{"IPVSD-OUTPUT", []string{
			"-m mark --mark " + drop + "/" + drop + " -j DROP",
		}},
	}, Jumps: []Jump{
		{"INPUT", "IPVSD-INPUT"},
		{"FORWARD", "IPVSD-FORWARD"},
		{"OUTPUT", "IPVSD-OUTPUT"},
	}}

	// Local firewall marks. xt_SET refuses --map-set outside the mangle
	// table (its checkentry), so they are set in mangle PREROUTING, which
	// unlike nat sees every packet of a connection. IPVS needs the mark
	// on the first only: it schedules that one (ip_vs_service_find at
	// LOCAL_IN) and finds the connection by tuple for the rest, so a
	// rule of another agent's that accepts established traffic ahead of
	// our jump (Calico's does) is harmless; marking later packets too
	// makes the drop bit cover them. PREROUTING runs before the routing
	// decision, so only local destinations may be marked: a node-port
	// CIDR can hold other hosts, whose forwarded traffic must keep its
	// mark for policy routing. Service addresses are always local (bound
	// to the VIP link), so their rule needs no such check.
	//
	// Not gated on --ctstate NEW: an entry without local endpoints maps
	// to the drop bit, which must keep dropping an established
	// connection's later packets, and those packets keep the mark
	// anyone else's rules may read. Every packet of the node comes
	// here, so the source test (a set lookup with cluster CIDRs) runs
	// once, ahead of both marking rules, and pod traffic meets nothing
	// else.
	mangle := Table{Name: "mangle", Chains: []Chain{
		{"IPVSD-PREROUTING", []string{outside + "-j IPVSD-LOCAL-MARK"}},
		{"IPVSD-LOCAL-MARK", []string{
			"-j SET --map-set " + set(roleVSFWMark) + " dst,dst --map-mark",
			match(roleNPFWMark, "dst,dst") + " -m addrtype --dst-type LOCAL -j SET --map-set " + set(roleNPFWMark) + " dst,dst --map-mark",
		}},
	}, Jumps: []Jump{
		{"PREROUTING", "IPVSD-PREROUTING"},
	}}

	rs := Ruleset{Family: f, Tables: []Table{nat, filter, mangle}}
	for i := range rs.Tables {
		slices.SortFunc(rs.Tables[i].Chains, func(a, b Chain) int { return strings.Compare(a.Name, b.Name) })
	}
	return rs
}

// Lines are our lines as iptables-save prints them for this table, in its
// order: chain declarations, our jumps in built-in chain order, then our
// chains' rules. Counters in declarations are zero.
func (t *Table) Lines() []string {
	var out []string
	for _, c := range t.Chains {
		out = append(out, ":"+c.Name+" - [0:0]")
	}
	for _, j := range t.Jumps {
		out = append(out, j.rule())
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			out = append(out, "-A "+c.Name+" "+r)
		}
	}
	return out
}

// restoreText is the iptables-restore --noflush input that rewrites our
// chains of this table: declaring a chain flushes it (and only it), then
// its rules are appended; missing jumps are inserted at the top of their
// built-in chain in the same transaction, after the chain they reach
// exists.
func (t *Table) restoreText(missing []Jump) string {
	var b strings.Builder
	b.WriteString("*" + t.Name + "\n")
	for _, c := range t.Chains {
		b.WriteString(":" + c.Name + " - [0:0]\n")
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			b.WriteString("-A " + c.Name + " " + r + "\n")
		}
	}
	for _, j := range missing {
		b.WriteString("-I " + j.From + " 1 -j " + j.To + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// String renders the whole ruleset as golden-file text.
func (rs Ruleset) String() string {
	var b strings.Builder
	for _, t := range rs.Tables {
		b.WriteString("*" + t.Name + "\n")
		for _, l := range t.Lines() {
			b.WriteString(l + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

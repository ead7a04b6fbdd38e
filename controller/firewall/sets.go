package firewall

import (
	"net/netip"
	"slices"

	"github.com/ipvsd/ipvsd/ipvs"
)

// SetPrefix starts the name of every ipset we own; Cleanup destroys exactly
// the sets named in SetSpecs, never by prefix, so an operator's own
// ipvsd-something set is safe.
const SetPrefix = "ipvsd-"

// Set roles. Each exists once per family, named ipvsd-<role>-v4/-v6,
// because an ipset holds a single family.
const (
	roleVIPs       = "vips"     // hash:ip: every service address
	roleVS         = "vs"       // hash:ip,port: VIP,proto:port of every non-NodePort virtual server
	roleVSLocal    = "vs-local" // ... those with a local-only traffic policy
	roleVSNoEP     = "vs-noep"  // ... those without real servers
	roleNodePorts  = "np"       // hash:net,port: node-port CIDR,proto:port
	roleNPLocal    = "np-local"
	roleNPNoEP     = "np-noep"
	roleLBFirewall = "lb-fw"   // hash:ip,port: load-balancer VIPs with source ranges
	roleLBSource   = "lb-src"  // hash:ip,port,net: ... and the sources they allow
	roleHairpin    = "hairpin" // hash:ip,port,ip: real server, port, itself
	roleCluster    = "cluster" // hash:net: the cluster CIDRs
	// Local firewall marks (skbinfo): VIP,proto:port and node-port
	// CIDR,proto:port of virtual servers with a LocalFWMark, each
	// carrying the mark, or the drop bit when there is no local endpoint.
	roleVSFWMark = "vs-fwmark"
	roleNPFWMark = "np-fwmark"
)

var roleTypes = []struct {
	role    string
	typ     SetType
	skbinfo bool
}{
	{roleVIPs, HashIP, false},
	{roleVS, HashIPPort, false},
	{roleVSLocal, HashIPPort, false},
	{roleVSNoEP, HashIPPort, false},
	{roleNodePorts, HashNetPort, false},
	{roleNPLocal, HashNetPort, false},
	{roleNPNoEP, HashNetPort, false},
	{roleLBFirewall, HashIPPort, false},
	{roleLBSource, HashIPPortNet, false},
	{roleHairpin, HashIPPortIP, false},
	{roleCluster, HashNet, false},
	{roleVSFWMark, HashIPPort, true},
	{roleNPFWMark, HashNetPort, true},
}

// SetSpec names one of our ipsets and its type.
type SetSpec struct {
	Name   string
	Type   SetType
	Family ipvs.Family
	// SkbInfo: the set is created with the skbinfo extension, so its
	// entries carry a packet mark (Entry.Mark) for SET --map-mark.
	SkbInfo bool
}

// Set is a set with its desired members, sorted and without duplicates.
type Set struct {
	SetSpec
	Entries []Entry
}

// SetName is the name of our set for a role and family.
func SetName(role string, f ipvs.Family) string {
	if f == ipvs.IPv6 {
		return SetPrefix + role + "-v6"
	}
	return SetPrefix + role + "-v4"
}

// SetSpecs lists every set we own for a family, in a fixed order. All of
// them always exist while we are installed, empty or not, so the ruleset
// never depends on which services exist.
func SetSpecs(f ipvs.Family) []SetSpec {
	specs := make([]SetSpec, 0, len(roleTypes))
	for _, rt := range roleTypes {
		specs = append(specs, SetSpec{Name: SetName(rt.role, f), Type: rt.typ, Family: f, SkbInfo: rt.skbinfo})
	}
	return specs
}

// DesiredSets computes the members of every set of a family. It is a pure
// function of d; the result is in SetSpecs order.
//
// The fwmark sets map a local-only destination to the mark that steers
// outside traffic to its firewall-mark virtual server. An entry without
// local endpoints maps to the drop bit instead, which filter INPUT drops:
// no second rule or set is needed, and the decision stays in one lookup.
// Both kinds rewrite the same bits (LocalMarkMask and the drop bit), so a
// mark left by an earlier rule of ours cannot survive into the other.
func DesiredSets(d *Desired, f ipvs.Family) []Set {
	em := newEntryMaker(d, f)
	each := func(add func(string, Entry)) {
		for i := range d.Services {
			em.service(&d.Services[i], add)
		}
		for _, h := range d.Hairpins {
			em.hairpin(h, add)
		}
		for _, p := range familyPrefixes(d.ClusterCIDRs, f) {
			for _, p := range splitZeroPrefixes([]netip.Prefix{p}) {
				add(roleCluster, Entry{IP: p.Addr(), Bits: p.Bits()})
			}
		}
	}
	// Counted first, then made to size: at 10,000 Services the lists
	// grown by appending were 7 MB of each periodic repair's garbage.
	n := map[string]int{}
	each(func(role string, _ Entry) { n[role]++ })
	m := make(map[string][]Entry, len(n))
	for role, c := range n {
		m[role] = make([]Entry, 0, c)
	}
	each(func(role string, e Entry) { m[role] = append(m[role], e) })

	sets := make([]Set, 0, len(roleTypes))
	for _, rt := range roleTypes {
		entries := m[rt.role]
		slices.SortFunc(entries, Entry.Compare)
		// One element, one entry: two virtual servers claiming one
		// element with different marks keep the lower mark.
		entries = slices.CompactFunc(entries, sameElement)
		sets = append(sets, Set{SetSpec: SetSpec{Name: SetName(rt.role, f), Type: rt.typ, Family: f, SkbInfo: rt.skbinfo}, Entries: entries})
	}
	return sets
}

// entryMaker computes the set entries of single virtual servers and
// hairpins of one family under d's options, so that DesiredSets (every
// service) and an update (the services that changed) agree entry for
// entry.
type entryMaker struct {
	f                  ipvs.Family
	npCIDRs            []netip.Prefix
	node               []netip.Addr
	markMask, dropMark uint32
}

func newEntryMaker(d *Desired, f ipvs.Family) *entryMaker {
	bits := *d
	bits.Defaults()
	return &entryMaker{f: f, npCIDRs: splitZeroPrefixes(familyPrefixes(d.NodePortCIDRs, f)), node: d.NodeAddresses,
		markMask: bits.LocalMarkMask | bits.dropMark(), dropMark: bits.dropMark()}
}

// service adds the entries of vs, if it is of the maker's family.
func (m *entryMaker) service(vs *VirtualServer, add func(string, Entry)) {
	switch {
	case vs.Key.IsFWMark() || vs.family() != m.f:
	case vs.Kind == NodePort:
		for _, p := range m.npCIDRs {
			e := Entry{IP: p.Addr(), Bits: p.Bits(), Protocol: vs.Key.Protocol, Port: vs.Key.Port}
			m.dest(vs, e, nodePortRoles, add)
		}
	default:
		m.address(vs, add)
	}
}

// hairpin adds h's entry, if it is of the maker's family.
func (m *entryMaker) hairpin(h Hairpin, add func(string, Entry)) {
	if ipvs.FamilyOf(h.Backend) != m.f {
		return
	}
	b := h.Backend.Unmap()
	add(roleHairpin, Entry{IP: b, Protocol: h.Protocol, Port: h.Port, IP2: b})
}

// mark gives e vs's local firewall mark, or the drop bit when vs has no
// local endpoint.
func (m *entryMaker) mark(vs *VirtualServer, e Entry) Entry {
	e.Mark, e.MarkMask = vs.LocalFWMark, m.markMask
	if !vs.HasLocalEndpoints {
		e.Mark = m.dropMark
	}
	return e
}

// destRoles are the sets one kind of destination (node port or service
// address) lands in.
type destRoles struct{ all, local, noEndpoints, fwmark string }

var (
	nodePortRoles = destRoles{roleNodePorts, roleNPLocal, roleNPNoEP, roleNPFWMark}
	addressRoles  = destRoles{roleVS, roleVSLocal, roleVSNoEP, roleVSFWMark}
)

// dest adds e, one destination of vs, to the sets its policy and
// endpoints call for.
func (m *entryMaker) dest(vs *VirtualServer, e Entry, r destRoles, add func(string, Entry)) {
	add(r.all, e)
	if vs.LocalOnly {
		add(r.local, e)
	}
	if !vs.HasEndpoints {
		add(r.noEndpoints, e)
	}
	if vs.LocalFWMark != 0 {
		add(r.fwmark, m.mark(vs, e))
	}
}

// address adds the set entries of a virtual server reached at its own
// address (a cluster, external or load-balancer IP).
func (m *entryMaker) address(vs *VirtualServer, add func(string, Entry)) {
	k := vs.Key
	vip := k.Address.Unmap()
	e := Entry{IP: vip, Protocol: k.Protocol, Port: k.Port}
	add(roleVIPs, Entry{IP: vip})
	m.dest(vs, e, addressRoles, add)
	if vs.Kind != LoadBalancerIP || len(vs.SourceRanges) == 0 {
		return
	}
	add(roleLBFirewall, e)
	ranges := familyPrefixes(vs.SourceRanges, m.f)
	for _, src := range ranges {
		// hash:ip,port,net cannot hold a /0 either.
		for _, p := range splitZeroPrefixes([]netip.Prefix{src}) {
			add(roleLBSource, Entry{IP: vip, Protocol: k.Protocol, Port: k.Port, IP2: p.Addr(), Bits2: p.Bits()})
		}
	}
	if admitsNode(ranges, m.node) {
		// The node's own connections to the VIP carry the VIP as their
		// source (the kernel picks the local route's preferred source),
		// so admitting the node means admitting that source. Only the
		// node can send it: a packet arriving with a local source
		// address is dropped as martian on input.
		add(roleLBSource, Entry{IP: vip, Protocol: k.Protocol, Port: k.Port, IP2: vip, Bits2: vip.BitLen()})
	}
}

// admitsNode reports whether a source range holds one of the node's
// addresses.
func admitsNode(ranges []netip.Prefix, node []netip.Addr) bool {
	for _, r := range ranges {
		for _, a := range node {
			if r.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}

// familyPrefixes keeps the prefixes of one family, masked (ipset stores
// the network address; 10.1.2.3/8 and 10.0.0.0/8 are one entry).
func familyPrefixes(ps []netip.Prefix, f ipvs.Family) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if !p.IsValid() || ipvs.FamilyOf(p.Addr()) != f {
			continue
		}
		out = append(out, p.Masked())
	}
	return out
}

// splitZeroPrefixes replaces a /0 by its two halves: hash:net types refuse
// a zero prefix length ("0.0.0.0/0" is not storable), and two /1s match
// the same addresses.
func splitZeroPrefixes(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.Bits() != 0 {
			out = append(out, p)
			continue
		}
		lo := netip.PrefixFrom(p.Addr(), 1)
		hiBytes := p.Addr().AsSlice()
		hiBytes[0] = 0x80
		hi, _ := netip.AddrFromSlice(hiBytes)
		out = append(out, lo, netip.PrefixFrom(hi, 1))
	}
	return out
}

package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Kind says how a virtual server is reached, which decides the sets it
// lands in.
type Kind uint8

const (
	// ClusterIP is a service address reachable from the cluster.
	ClusterIP Kind = iota
	// ExternalIP is an address routed to the node from outside.
	ExternalIP
	// LoadBalancerIP is a load balancer's address; it may carry source
	// ranges.
	LoadBalancerIP
	// NodePort is a port opened on the node's own addresses selected by
	// Desired.NodePortCIDRs; Key.Address is ignored.
	NodePort
)

func (k Kind) String() string {
	switch k {
	case ClusterIP:
		return "ClusterIP"
	case ExternalIP:
		return "ExternalIP"
	case LoadBalancerIP:
		return "LoadBalancerIP"
	case NodePort:
		return "NodePort"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// VirtualServer is what the firewall needs to know of one virtual server.
type VirtualServer struct {
	// Key names the virtual server. Firewall-mark keys are not supported.
	// For a NodePort, only Family, Protocol and Port are read: the node
	// addresses come from Desired.NodePortCIDRs.
	Key  ipvs.Key
	Kind Kind
	// HasEndpoints is false when the virtual server has no real servers;
	// new connections to it are then rejected.
	HasEndpoints bool
	// SourceRanges restrict who may connect to a LoadBalancerIP (the
	// node's own traffic included). Empty means everyone.
	SourceRanges []netip.Prefix
	// LocalOnly marks a local-only external traffic policy: traffic from
	// outside the node keeps its source address (never masqueraded) so the
	// real server sees the client.
	LocalOnly bool
	// LocalFWMark, when non-zero (with LocalOnly, never on a ClusterIP),
	// is the packet mark given to traffic from outside the cluster
	// (sources outside ClusterCIDRs, arriving from another host) to this
	// virtual server; it must lie within Desired.LocalMarkMask. IPVS
	// looks firewall-mark services up before address ones, so such traffic is scheduled on the firewall-mark
	// virtual server of that number, which holds only this node's
	// endpoints, while pods and the node itself keep reaching Key's
	// virtual server and every endpoint (Kubernetes'
	// externalTrafficPolicy: Local). The mark must reach IPVS exactly
	// (ip_vs_service_find compares the whole skb->mark), so such traffic
	// must not get the masquerade bit, as LocalOnly already ensures.
	// The mark is set in mangle PREROUTING (see Render and DesiredSets).
	LocalFWMark uint32
	// HasLocalEndpoints, read only with LocalFWMark, is false when this
	// node has no endpoint for the marked traffic: it is then dropped, as
	// Kubernetes does, so the load balancer's health check (not a reset)
	// decides where clients go.
	HasLocalEndpoints bool
}

// Hairpin is a real server that is also a client of its own virtual
// server. After IPVS rewrites the destination such a packet goes from the
// real server to itself, and the reply would never come back through IPVS
// unless it is masqueraded.
type Hairpin struct {
	Backend  netip.Addr
	Protocol ipvs.Protocol
	// Port is the real server's port, the destination port after IPVS
	// rewrote the packet.
	Port uint16
}

// DefaultMasqueradeBit is the packet mark bit kube-proxy uses, so a node
// that switches between the two keeps its marks meaningful to other agents.
const DefaultMasqueradeBit = 14

// DefaultDropBit marks packets from the node itself that a source range
// denies; see Render for why that decision needs a mark.
const DefaultDropBit = 15

// Desired is everything the firewall must know, independent of where it
// comes from (a YAML file or Kubernetes).
type Desired struct {
	Services []VirtualServer
	// ClusterCIDRs are the pod networks. Traffic to a virtual server from
	// outside them is masqueraded. With none, only the node's own,
	// hairpin and (with MasqueradeAll) all traffic is masqueraded.
	ClusterCIDRs []netip.Prefix
	// LocalInterface, when set, tells pod traffic by the interface it
	// arrives on instead of by ClusterCIDRs (kube-proxy's detectLocalMode
	// BridgeInterface, or InterfaceNamePrefix with a trailing "+", as
	// iptables writes a prefix).
	LocalInterface string
	// MasqueradeAll masquerades all traffic to virtual servers, except
	// traffic from outside the node to a LocalOnly one (which asked to
	// keep its client addresses).
	MasqueradeAll bool
	// MasqueradeBit and DropBit are packet mark bits (0-31); they must
	// differ and not collide with bits other agents use (Calico uses
	// 16-31 by default).
	MasqueradeBit uint
	DropBit       uint
	// LocalMarkMask holds the packet mark bits LocalFWMarks may use;
	// marking rewrites those bits (and the drop bit) only, leaving
	// everyone else's. Default: every bit below the lower of
	// MasqueradeBit and DropBit (0x3fff with the default bits).
	LocalMarkMask uint32
	// NodePortCIDRs select the node addresses that accept NodePort
	// traffic (--nodeport-addresses). The caller resolves the default
	// (the node's primary addresses, as /32 and /128).
	NodePortCIDRs []netip.Prefix
	// NodeAddresses are the node's own addresses. A LoadBalancerIP whose
	// source ranges hold one of them admits the node's own traffic. That
	// traffic cannot be judged by its source alone: a socket connecting
	// to a VIP bound on the node leaves with the VIP itself as source
	// (the preferred source of the VIP's route in the local table), an
	// address no source range names. See DesiredSets.
	NodeAddresses []netip.Addr
	Hairpins      []Hairpin
}

// SortedAddrs returns addrs unmapped, sorted and without duplicates (nil
// for none), the form NodeAddresses takes: an unchanged host then yields
// an identical state whatever order its links list their addresses in.
func SortedAddrs(addrs []netip.Addr) []netip.Addr {
	if len(addrs) == 0 {
		return nil
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Defaults fills in unset mark bits and the local mark mask.
func (d *Desired) Defaults() {
	if d.MasqueradeBit == 0 && d.DropBit == 0 {
		d.MasqueradeBit, d.DropBit = DefaultMasqueradeBit, DefaultDropBit
	}
	if d.LocalMarkMask == 0 {
		d.LocalMarkMask = uint32(1)<<min(d.MasqueradeBit, d.DropBit, 31) - 1
	}
}

func (d *Desired) masqMark() uint32 { return uint32(1) << d.MasqueradeBit }
func (d *Desired) dropMark() uint32 { return uint32(1) << d.DropBit }

// Validate reports every problem at once.
func (d *Desired) Validate() error {
	var errs []error
	if d.MasqueradeBit > 31 || d.DropBit > 31 {
		errs = append(errs, fmt.Errorf("mark bits %d and %d: want 0-31", d.MasqueradeBit, d.DropBit))
	}
	if d.MasqueradeBit == d.DropBit {
		errs = append(errs, fmt.Errorf("masquerade and drop mark bits are both %d", d.DropBit))
	}
	if d.MasqueradeBit <= 31 && d.DropBit <= 31 && d.LocalMarkMask&(d.masqMark()|d.dropMark()) != 0 {
		errs = append(errs, fmt.Errorf("local mark mask %#x holds the masquerade or drop bit (%d, %d)",
			d.LocalMarkMask, d.MasqueradeBit, d.DropBit))
	}
	errs = append(errs, d.validatePart(d.Services, d.Hairpins)...)
	for _, p := range append(append([]netip.Prefix(nil), d.ClusterCIDRs...), d.NodePortCIDRs...) {
		if !p.IsValid() || p.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("invalid CIDR %s", p))
		}
	}
	if i := strings.TrimSuffix(d.LocalInterface, "+"); d.LocalInterface != "" && (i == "" || len(i) > 15 || strings.ContainsAny(i, " /!\t")) {
		errs = append(errs, fmt.Errorf("invalid local interface %q", d.LocalInterface))
	}
	for _, a := range d.NodeAddresses {
		if !a.IsValid() || a.Is4In6() {
			errs = append(errs, fmt.Errorf("invalid node address %s", a))
		}
	}
	return errors.Join(errs...)
}

// validatePart reports the problems of some virtual servers and hairpins
// (all of d's, or one owner's part) under d's local mark mask.
func (d *Desired) validatePart(services []VirtualServer, hairpins []Hairpin) []error {
	var errs []error
	for i, vs := range services {
		if vs.LocalFWMark&^d.LocalMarkMask != 0 {
			errs = append(errs, fmt.Errorf("virtual server %d (%s %s): local firewall mark %#x outside the local mark mask %#x",
				i, vs.Kind, vs.Key, vs.LocalFWMark, d.LocalMarkMask))
		}
		if err := vs.validate(); err != nil {
			errs = append(errs, fmt.Errorf("virtual server %d (%s %s): %w", i, vs.Kind, vs.Key, err))
		}
	}
	for _, h := range hairpins {
		if !h.Backend.IsValid() || h.Port == 0 || !knownProtocol(h.Protocol) {
			errs = append(errs, fmt.Errorf("invalid hairpin %s %s:%d", h.Protocol, h.Backend, h.Port))
		}
	}
	return errs
}

func (vs *VirtualServer) validate() error {
	var errs []error
	if vs.Key.IsFWMark() {
		errs = append(errs, errors.New("firewall-mark services are not supported"))
	}
	if !knownProtocol(vs.Key.Protocol) {
		errs = append(errs, fmt.Errorf("protocol %s", vs.Key.Protocol))
	}
	if vs.Key.Port == 0 {
		errs = append(errs, errors.New("port 0"))
	}
	if vs.Kind != NodePort {
		if !vs.Key.Address.IsValid() {
			errs = append(errs, errors.New("no address"))
		} else if vs.Key.Family != 0 && ipvs.FamilyOf(vs.Key.Address) != vs.Key.Family {
			errs = append(errs, fmt.Errorf("address %s is not %s", vs.Key.Address, vs.Key.Family))
		}
	} else if vs.Key.Family != ipvs.IPv4 && vs.Key.Family != ipvs.IPv6 {
		errs = append(errs, fmt.Errorf("a NodePort needs a family, got %d", vs.Key.Family))
	}
	if vs.LocalFWMark != 0 && (!vs.LocalOnly || vs.Kind == ClusterIP) {
		errs = append(errs, errors.New("a local firewall mark needs a local-only external address or node port"))
	}
	if len(vs.SourceRanges) > 0 && vs.Kind != LoadBalancerIP {
		errs = append(errs, errors.New("source ranges apply to load-balancer IPs only"))
	}
	for _, p := range vs.SourceRanges {
		if !p.IsValid() || p.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("invalid source range %s", p))
		}
	}
	return errors.Join(errs...)
}

// family is the virtual server's family: its address's, or Key.Family for
// a NodePort (which has no address of its own).
func (vs *VirtualServer) family() ipvs.Family {
	if vs.Kind == NodePort || !vs.Key.Address.IsValid() {
		if vs.Key.Family == 0 {
			return ipvs.IPv4
		}
		return vs.Key.Family
	}
	return ipvs.FamilyOf(vs.Key.Address)
}

func knownProtocol(p ipvs.Protocol) bool {
	return p == ipvs.TCP || p == ipvs.UDP || p == ipvs.SCTP
}

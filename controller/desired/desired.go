package desired

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// DefaultDrainTimeout bounds how long a removed TCP real server keeps its
// connections before it is deleted regardless.
const DefaultDrainTimeout = 60 * time.Second

// State is the state ipvsd wants: virtual servers with their real servers,
// and the VIP addresses to bind on its dummy link. It is plain data; sources
// (a YAML file, Kubernetes) build it and know nothing of the kernel.
type State struct {
	Services []VirtualServer
	// Addresses are bound on ipvsd's dummy link, so the kernel accepts
	// packets for them locally and IPVS sees them. An address already
	// configured on another interface is left where it is.
	Addresses []netip.Addr
}

// VirtualServer is one desired virtual server.
type VirtualServer struct {
	// Service holds the key and scheduling parameters; Stats are ignored.
	ipvs.Service
	// Owner labels where the virtual server comes from ("web",
	// "ns/svc:port"); it is recorded and logged, never interpreted.
	Owner string
	// DrainTimeout bounds how long a removed real server keeps draining.
	// Zero means DefaultDrainTimeout; negative means delete at once.
	DrainTimeout time.Duration
	// Destinations are the real servers; connection counts and stats are
	// ignored. Order does not matter.
	Destinations []ipvs.Destination
}

// EffectiveDrainTimeout is DrainTimeout with zero meaning the default.
func (vs *VirtualServer) EffectiveDrainTimeout() time.Duration {
	if vs.DrainTimeout == 0 {
		return DefaultDrainTimeout
	}
	return vs.DrainTimeout
}

// Validate checks one virtual server on its own.
func (vs *VirtualServer) Validate() error {
	n := vs.Normalize()
	return n.ValidateNormalized()
}

// ValidateNormalized checks a normalized virtual server (real servers sorted).
func (vs *VirtualServer) ValidateNormalized() error {
	k := vs.Key
	var errs []error
	if k.IsFWMark() {
		if k.Address.IsValid() || k.Protocol != 0 || k.Port != 0 {
			errs = append(errs, errors.New("a firewall-mark service has no address, protocol or port"))
		}
		if k.Family != ipvs.IPv4 && k.Family != ipvs.IPv6 {
			errs = append(errs, fmt.Errorf("unknown family %d", k.Family))
		}
	} else {
		if !k.Address.IsValid() || k.Address.Zone() != "" {
			errs = append(errs, fmt.Errorf("invalid address %v", k.Address))
		} else if ipvs.FamilyOf(k.Address) != k.Family {
			errs = append(errs, fmt.Errorf("address %s is not %s", k.Address, k.Family))
		}
		switch k.Protocol {
		case ipvs.TCP, ipvs.UDP, ipvs.SCTP:
		default:
			errs = append(errs, fmt.Errorf("unsupported protocol %s", k.Protocol))
		}
	}
	if vs.Scheduler == "" {
		errs = append(errs, errors.New("no scheduler"))
	}
	for i, d := range vs.Destinations {
		if i > 0 && vs.Destinations[i-1].DestKey == d.DestKey {
			errs = append(errs, fmt.Errorf("real server %s listed twice", d.DestKey))
		}
		if !d.Address.IsValid() {
			errs = append(errs, fmt.Errorf("real server %s: invalid address", d.DestKey))
		} else if ipvs.FamilyOf(d.Address) != k.Family && d.Forwarding != ipvs.Tunnel {
			// Only tunnelling can carry one family inside the other.
			errs = append(errs, fmt.Errorf("real server %s: family differs from the virtual server's", d.DestKey))
		}
		if d.Weight < 0 {
			errs = append(errs, fmt.Errorf("real server %s: negative weight %d", d.DestKey, d.Weight))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("virtual server %s (%s): %w", k, vs.Owner, err)
	}
	return nil
}

// Normalize returns a copy the reconciler can keep and compare: real
// servers sorted, read-only fields cleared, persistence flag made explicit
// (ipvs.Service.Canonical: the form the kernel lists back, so a desired and
// a dumped service compare equal when no update is due).
func (vs VirtualServer) Normalize() VirtualServer {
	vs.Service = vs.Service.Canonical()
	dests := make([]ipvs.Destination, len(vs.Destinations))
	for i, d := range vs.Destinations {
		dests[i] = d.Canonical()
	}
	sortDests(dests)
	vs.Destinations = dests
	return vs
}

// NormalizeKeep is Normalize without the copy when vs's real servers are
// normalized already (sorted, distinct, canonical): the result then
// shares vs's slice, which the caller must not change after.
func (vs VirtualServer) NormalizeKeep() VirtualServer {
	for i, d := range vs.Destinations {
		if d != d.Canonical() || (i > 0 && vs.Destinations[i-1].DestKey.Compare(d.DestKey) >= 0) {
			return vs.Normalize()
		}
	}
	vs.Service = vs.Service.Canonical()
	return vs
}

// EqualNormalized compares two normalized virtual servers.
func EqualNormalized(a, b *VirtualServer) bool {
	return a.Service == b.Service && a.Owner == b.Owner && a.DrainTimeout == b.DrainTimeout &&
		slices.Equal(a.Destinations, b.Destinations)
}

// ServiceAddresses returns the distinct VIPs of d's address-based virtual
// servers, sorted: what a source usually puts in Addresses, so a VIP is
// unbound exactly when no desired service uses it any more.
func (d *State) ServiceAddresses() []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, vs := range d.Services {
		if !vs.IsFWMark() && vs.Address.IsValid() && !seen[vs.Address] {
			seen[vs.Address] = true
			out = append(out, vs.Address)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

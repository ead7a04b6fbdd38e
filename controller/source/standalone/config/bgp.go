package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// BGP defaults.
const (
	DefaultBGPPort = 179
	// DefaultHoldTime is BGP's customary 90 s (RFC 4271 suggests it).
	DefaultHoldTime = 90 * time.Second
	// DefaultRestartTime is how long a peer keeps our routes after the
	// session drops without a NOTIFICATION (a restart or upgrade): long
	// enough for ipvsd to start again and finish its first sync.
	DefaultRestartTime = 120 * time.Second
	// maxRestartTime is RFC 4724's 12-bit Restart Time field.
	maxRestartTime = 4095 * time.Second
	// maxPasswordLength is the kernel's TCP_MD5SIG_MAXKEYLEN.
	maxPasswordLength = 80
)

// BGP is the optional bgp: section: announce the VIPs of healthy services
// to routers, each as a /32 or /128 with this host as the next hop.
type BGP struct {
	// ASN is our autonomous system (1-4294967295).
	ASN int64 `json:"asn"`
	// RouterID is an IPv4 address; unset, the first IPv4 address of the
	// interface the first peer is reached through.
	RouterID string `json:"routerID,omitempty"`
	Peers    []Peer `json:"peers"`
	// Communities are standard communities (ASN:VALUE, each 0-65535)
	// attached to every route.
	Communities []string `json:"communities,omitempty"`

	parsed parsedBGP
}

// Peer is one BGP neighbour (a router).
type Peer struct {
	Address string `json:"address"`
	ASN     int64  `json:"asn"`
	// HoldTime is a duration, 3s-65535s.
	HoldTime string `json:"holdTime,omitempty"`
	Port     int    `json:"port,omitempty"`
	// Password turns on TCP MD5 signatures (RFC 2385).
	Password string `json:"password,omitempty"`
	// Multihop is the TTL of eBGP sessions to a peer that is not on a
	// directly connected network (0: directly connected).
	Multihop int `json:"multihop,omitempty"`
	// SourceAddress is the local address sessions are opened from.
	SourceAddress string `json:"sourceAddress,omitempty"`
	// GracefulRestart (RFC 4724, default true) lets the peer keep our
	// routes for RestartTime when ipvsd stops with SIGTERM or dies.
	GracefulRestart *bool  `json:"gracefulRestart,omitempty"`
	RestartTime     string `json:"restartTime,omitempty"`

	parsed parsedPeer
}

type parsedBGP struct {
	routerID    netip.Addr
	communities []uint32
}

type parsedPeer struct {
	addr, source netip.Addr
	hold, gr     time.Duration
}

func (b *BGP) defaults() {
	for i := range b.Peers {
		p := &b.Peers[i]
		if p.HoldTime == "" {
			p.HoldTime = DefaultHoldTime.String()
		}
		if p.Port == 0 {
			p.Port = DefaultBGPPort
		}
		if p.GracefulRestart == nil {
			on := true
			p.GracefulRestart = &on
		}
		if p.RestartTime == "" {
			p.RestartTime = DefaultRestartTime.String()
		}
	}
}

func (b *BGP) validate(p *problems) {
	validASN("bgp.asn", b.ASN, p)
	if b.RouterID != "" {
		a, err := netip.ParseAddr(b.RouterID)
		if err != nil || !a.Is4() || a.IsUnspecified() {
			p.add("bgp.routerID", "%s is not an IPv4 address (a BGP router ID is 32 bits)", quote(b.RouterID))
		}
		b.parsed.routerID = a
	}
	if len(b.Peers) == 0 {
		p.add("bgp.peers", "at least one peer is required")
	}
	seen := map[netip.Addr]int{}
	for i := range b.Peers {
		path := fmt.Sprintf("bgp.peers[%d]", i)
		b.Peers[i].validate(path, p)
		if a := b.Peers[i].parsed.addr; a.IsValid() {
			if j, dup := seen[a]; dup {
				p.add(path+".address", "%s is also bgp.peers[%d]", a, j)
			}
			seen[a] = i
		}
	}
	b.parsed.communities = nil
	for i, c := range b.Communities {
		v, err := parseCommunity(c)
		if err != nil {
			p.add(fmt.Sprintf("bgp.communities[%d]", i), "%v", err)
			continue
		}
		b.parsed.communities = append(b.parsed.communities, v)
	}
}

func (pe *Peer) validate(path string, p *problems) {
	a, err := netip.ParseAddr(pe.Address)
	switch {
	case pe.Address == "":
		p.add(path+".address", "is required")
	case err != nil || a.Zone() != "":
		p.add(path+".address", "%s is not an IP address", quote(pe.Address))
	case a.IsUnspecified() || a.IsMulticast():
		p.add(path+".address", "%s cannot be a BGP neighbour", a)
	default:
		pe.parsed.addr = a.Unmap()
	}
	validASN(path+".asn", pe.ASN, p)
	hold, err := parseDuration(pe.HoldTime)
	switch {
	case err != nil:
		p.add(path+".holdTime", "%v", err)
	case hold%time.Second != 0 || hold < 3*time.Second || hold > math.MaxUint16*time.Second:
		// RFC 4271 4.2: whole seconds, at least three (zero, no keepalives at
		// all, would leave a dead director announced forever).
		p.add(path+".holdTime", "must be whole seconds, 3s-65535s, not %s", hold)
	}
	if pe.Port < 1 || pe.Port > 65535 {
		p.add(path+".port", "must be 1-65535")
	}
	if len(pe.Password) > maxPasswordLength {
		p.add(path+".password", "must be at most %d bytes (the kernel's TCP MD5 key limit)", maxPasswordLength)
	}
	if pe.Multihop < 0 || pe.Multihop > 255 {
		p.add(path+".multihop", "must be a TTL 1-255 (0 or unset: directly connected)")
	}
	if pe.SourceAddress != "" {
		s, err := netip.ParseAddr(pe.SourceAddress)
		switch {
		case err != nil || s.Zone() != "":
			p.add(path+".sourceAddress", "%s is not an IP address", quote(pe.SourceAddress))
		case pe.parsed.addr.IsValid() && s.Unmap().Is4() != pe.parsed.addr.Is4():
			p.add(path+".sourceAddress", "%s is not of the peer's address family", s)
		default:
			pe.parsed.source = s.Unmap()
		}
	}
	gr, err := parseDuration(pe.RestartTime)
	switch {
	case err != nil:
		p.add(path+".restartTime", "%v", err)
	case gr%time.Second != 0 || gr < time.Second || gr > maxRestartTime:
		p.add(path+".restartTime", "must be whole seconds, 1s-%s, not %s", maxRestartTime, gr)
	}
	pe.parsed.hold, pe.parsed.gr = hold, gr
}

// validASN accepts 4-byte AS numbers (RFC 6793); 0 is reserved.
func validASN(path string, asn int64, p *problems) {
	if asn < 1 || asn > math.MaxUint32 {
		p.add(path, "must be an AS number 1-4294967295")
	}
}

// parseCommunity reads a standard community, ASN:VALUE.
func parseCommunity(s string) (uint32, error) {
	hi, lo, ok := strings.Cut(s, ":")
	a, aerr := strconv.ParseUint(hi, 10, 16)
	b, berr := strconv.ParseUint(lo, 10, 16)
	if !ok || aerr != nil || berr != nil {
		return 0, fmt.Errorf("%s is not a community like 64512:100 (two numbers 0-65535)", quote(s))
	}
	return uint32(a)<<16 | uint32(b), nil
}

// The accessors below are meaningful only after a nil Validate.

// RouterIDAddr is the configured router ID (invalid when unset).
func (b *BGP) RouterIDAddr() netip.Addr { return b.parsed.routerID }

// CommunityValues are Communities as 32-bit values, in order.
func (b *BGP) CommunityValues() []uint32 { return b.parsed.communities }

// Addr is the peer's address.
func (pe *Peer) Addr() netip.Addr { return pe.parsed.addr }

// SourceAddr is the configured source address (invalid when unset).
func (pe *Peer) SourceAddr() netip.Addr { return pe.parsed.source }

// HoldDuration is the hold time.
func (pe *Peer) HoldDuration() time.Duration { return pe.parsed.hold }

// RestartDuration is the graceful-restart time.
func (pe *Peer) RestartDuration() time.Duration { return pe.parsed.gr }

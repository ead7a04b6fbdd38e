package bgp

import (
	"context"
	"net/netip"
	"slices"
	"time"
)

// Config is what the speaker is told to do: plain values, built from the
// standalone file's bgp: section.
type Config struct {
	ASN      uint32
	RouterID netip.Addr
	Peers    []Peer
	// Communities are standard communities attached to every route.
	Communities []uint32
	// ForwardingPreserved says the dataplane forwards across a restart of
	// the speaker, as IPVS in the kernel does across one of ipvsd: the
	// graceful-restart capability then sets the Restart State and
	// Forwarding State bits (RFC 4724 3), so a peer keeps the stale
	// routes of a restarted daemon until its End-of-RIB, where without
	// them it flushes them the moment the new session is up, and a
	// router's ECMP set would lose the director for an instant.
	ForwardingPreserved bool
}

// Peer is one BGP neighbour.
type Peer struct {
	Address       netip.Addr
	ASN           uint32
	Port          uint16
	HoldTime      time.Duration
	Password      string
	Multihop      uint8
	SourceAddress netip.Addr
	// GracefulRestart offers RFC 4724 graceful restart with RestartTime.
	GracefulRestart bool
	RestartTime     time.Duration
}

// State names of a BGP session (RFC 4271 8.2.2), lower case.
const (
	StateIdle        = "idle"
	StateConnect     = "connect"
	StateActive      = "active"
	StateOpenSent    = "opensent"
	StateOpenConfirm = "openconfirm"
	StateEstablished = "established"
)

// PeerStatus is one session as the speaker sees it.
type PeerStatus struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	State   string     `json:"state"`
	// GracefulRestart: both sides offered graceful restart on the last
	// session, so a stop without a NOTIFICATION leaves our routes with
	// the peer for our restart time.
	GracefulRestart bool `json:"gracefulRestart"`
	// Since is when the session entered State (zero: unknown).
	Since time.Time `json:"since,omitzero"`
}

// Speaker holds BGP sessions and announces routes on them. Calls are not
// concurrent (the Announcer serialises them); OnPeer callbacks may come
// from any goroutine.
type Speaker interface {
	// Configure applies cfg: the first call opens the sessions; later
	// ones add, remove and update peers, re-announce every route when
	// the communities change, and restart everything when the ASN or the
	// router ID changes.
	Configure(ctx context.Context, cfg Config) error
	// Announce makes the announced routes exactly prefixes (sorted, no
	// duplicates), withdrawing the others. Before the first Configure it
	// only records them, so the first sessions start with the routes in
	// place and their first End-of-RIB marker follows the routes.
	Announce(ctx context.Context, prefixes []netip.Prefix) error
	// Peers reports every configured session, sorted by address.
	Peers(ctx context.Context) ([]PeerStatus, error)
	// Stop ends every session. With keepGraceful, a peer that negotiated
	// graceful restart gets no NOTIFICATION: it keeps our routes, stale,
	// for the restart time (a restart or an upgrade moves no traffic);
	// every other peer is sent a Cease and withdraws them.
	Stop(ctx context.Context, keepGraceful bool) error
}

// HostPrefix is the route announced for a VIP: a /32 or a /128.
func HostPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

// HostPrefixes are the routes of vips, sorted and without duplicates.
func HostPrefixes(vips []netip.Addr) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(vips))
	for _, a := range vips {
		out = append(out, HostPrefix(a))
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// diffPrefixes returns what is in want and not in have (add) and what is
// in have and not in want (remove); both inputs sorted.
func diffPrefixes(have, want []netip.Prefix) (add, remove []netip.Prefix) {
	i, j := 0, 0
	for i < len(have) || j < len(want) {
		switch {
		case j == len(want) || (i < len(have) && comparePrefix(have[i], want[j]) < 0):
			remove = append(remove, have[i])
			i++
		case i == len(have) || comparePrefix(have[i], want[j]) > 0:
			add = append(add, want[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, remove
}

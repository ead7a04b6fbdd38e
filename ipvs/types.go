package ipvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
)

// Protocol is an IP protocol number that IPVS can balance.
type Protocol uint16

const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// ParseProtocol accepts tcp, udp and sctp in any case.
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "tcp", "TCP":
		return TCP, nil
	case "udp", "UDP":
		return UDP, nil
	case "sctp", "SCTP":
		return SCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want tcp, udp or sctp)", s)
}

// Family is an address family: IPv4 or IPv6.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// FamilyOf returns the family of a (non-mapped) address.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

// Key identifies a virtual server: either address+protocol+port, or a
// firewall mark (then Address is invalid, Protocol and Port are zero, and
// Family says which family of packets the mark selects).
type Key struct {
	Family   Family
	Address  netip.Addr
	Protocol Protocol
	Port     uint16
	FWMark   uint32
}

// IsFWMark reports whether the key names a firewall-mark service.
func (k Key) IsFWMark() bool { return k.FWMark != 0 }

// String renders the key the way ipvsadm names services in its options:
// TCP 192.0.2.1:80, UDP [2001:db8::1]:53, FWM 42 (IPv6).
func (k Key) String() string {
	if k.IsFWMark() {
		if k.Family == IPv6 {
			return fmt.Sprintf("FWM %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", k.Protocol, netip.AddrPortFrom(k.Address, k.Port))
}

// Compare orders keys as a stable, human-friendly listing: by kind
// (address services before fwmark services), family, address, protocol,
// port, mark. It returns -1, 0 or +1, for slices.SortFunc and friends.
func (k Key) Compare(o Key) int {
	if k.IsFWMark() != o.IsFWMark() {
		if k.IsFWMark() {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(k.Family, o.Family); c != 0 {
		return c
	}
	if c := k.Address.Compare(o.Address); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Protocol, o.Protocol); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Port, o.Port); c != 0 {
		return c
	}
	return cmp.Compare(k.FWMark, o.FWMark)
}

// Less reports whether k sorts before o (see Compare).
func (k Key) Less(o Key) bool { return k.Compare(o) < 0 }

// Flags are a virtual server's scheduling flags, named as ipvsadm names
// them. The kernel uses the same three bits (IP_VS_SVC_F_SCHED1..3) for
// different meanings depending on the scheduler: sh-fallback and
// mh-fallback are one bit, sh-port and mh-port another. We keep the names
// apart so a config can say what it means, and map them to bits only when
// talking to the kernel.
type Flags uint32

const (
	// FlagPersistent makes the service persistent (IP_VS_SVC_F_PERSISTENT).
	// It is implied by a non-zero Timeout; callers need not set it.
	FlagPersistent Flags = 1 << iota
	FlagOnePacket        // ops: one-packet scheduling (UDP)
	FlagSHFallback       // sh-fallback
	FlagSHPort           // sh-port
	FlagMHFallback       // mh-fallback
	FlagMHPort           // mh-port
	// FlagSched3 is the third scheduler bit, which no scheduler in the
	// kernel uses today; kept so unknown bits survive a round trip.
	FlagSched3
)

// Service is a virtual server: its key and its scheduling parameters.
type Service struct {
	Key
	// Scheduler is the IPVS scheduler name (rr, wrr, lc, wlc, lblc, lblcr,
	// dh, sh, sed, nq, mh, fo, ovf, twos).
	Scheduler string
	Flags     Flags
	// Timeout is the persistence timeout in seconds; zero means not
	// persistent.
	Timeout uint32
	// Netmask is the persistence granularity as a prefix length (32 or 128
	// means per client address). Zero means the family's full length.
	Netmask uint8
	// PEName is the persistence engine ("sip"), usually empty.
	PEName string
}

// Forwarding is a real server's packet forwarding method.
type Forwarding uint8

const (
	Masquerade  Forwarding = 0 // NAT
	Local       Forwarding = 1 // the director itself
	Tunnel      Forwarding = 2 // IP-in-IP (TUN)
	DirectRoute Forwarding = 3 // DR, "gatewaying"
)

func (f Forwarding) String() string {
	switch f {
	case Masquerade:
		return "Masq"
	case Local:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case DirectRoute:
		return "Route"
	}
	return "Fwd" + strconv.Itoa(int(f))
}

// ParseForwarding accepts nat|masq, dr|route, tun|tunnel, local, and the
// names String gives (ipvsadm's: Masq, Route, Tunnel, Local).
func ParseForwarding(s string) (Forwarding, error) {
	switch s {
	case "nat", "masq", "masquerade", "NAT", "Masq":
		return Masquerade, nil
	case "dr", "route", "direct", "DR", "Route":
		return DirectRoute, nil
	case "tun", "tunnel", "ipip", "TUN", "Tunnel":
		return Tunnel, nil
	case "local", "Local":
		return Local, nil
	}
	return 0, fmt.Errorf("unknown forwarding method %q (want nat, dr or tun)", s)
}

// DestKey identifies a real server within a virtual server.
type DestKey struct {
	Address netip.Addr
	Port    uint16
}

func (d DestKey) String() string { return netip.AddrPortFrom(d.Address, d.Port).String() }

// Compare orders real servers by address, then port.
func (d DestKey) Compare(o DestKey) int {
	if c := d.Address.Compare(o.Address); c != 0 {
		return c
	}
	return cmp.Compare(d.Port, o.Port)
}

// Less reports whether d sorts before o (see Compare).
func (d DestKey) Less(o DestKey) bool { return d.Compare(o) < 0 }

// Destination is a real server as it is written: its key and what the
// kernel lets a writer set. Desired state holds a hundred thousand of them
// at 10,000 Services, so the kernel's counters are not in it
// (DestinationState): they would more than double its size.
type Destination struct {
	DestKey
	Weight     int
	Forwarding Forwarding
	// UpperThreshold and LowerThreshold bound the connections a real
	// server takes (0: no limit).
	UpperThreshold uint32
	LowerThreshold uint32
}

// DestinationState is a real server as the kernel reports it: what was
// written and the kernel's connection counts and stats.
type DestinationState struct {
	Destination
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	// Stats are nil when the dump did not read them (Handle.DumpForSync):
	// 80 of a real server's 152 bytes, which a sync, comparing what was
	// written and reading connection counts only, does not need (8 MB
	// of a dump held through a full resync at 100,000 real servers).
	Stats *Stats
}

// Counters are d's stats, zero when they were not read.
func (d DestinationState) Counters() Stats {
	if d.Stats == nil {
		return Stats{}
	}
	return *d.Stats
}

// Stats are a service's or real server's counters and rate estimates, as
// 64-bit values (the kernel's older 32-bit attributes wrap on busy hosts).
type Stats struct {
	Conns    uint64
	InPkts   uint64
	OutPkts  uint64
	InBytes  uint64
	OutBytes uint64
	CPS      uint64
	InPPS    uint64
	OutPPS   uint64
	InBPS    uint64
	OutBPS   uint64
}

// ServiceWithDests is one virtual server and its real servers, as a full
// dump returns them.
type ServiceWithDests struct {
	Service
	// Stats are the service's counters. They are not in Service, which
	// desired state and ipvsd's model hold once per virtual server.
	Stats        Stats
	Destinations []DestinationState
}

// ServiceConfig is one virtual server and its real servers as written,
// without the kernel's counters: what a writer compares with what it wants,
// and how ipvsd models what it wrote.
type ServiceConfig struct {
	Service
	Destinations []Destination
}

// Config is s as it was written: canonical (see Service.Canonical and
// Destination.Canonical), in the dump's order, in a slice of its own.
func (s ServiceWithDests) Config() ServiceConfig {
	return ServiceConfig{Service: s.Service.Canonical(), Destinations: Configs(s.Destinations)}
}

// Listed is ds as a dump lists them right after they are written: each
// canonical, every counter zero. It lets what is wanted be rendered and
// compared as what the kernel holds.
func Listed(ds []Destination) []DestinationState {
	out := make([]DestinationState, len(ds))
	for i, d := range ds {
		out[i].Destination = d.Canonical()
	}
	return out
}

// Configs are ds as they were written: each canonical, in ds's order, in a
// slice of their own.
func Configs(ds []DestinationState) []Destination {
	out := make([]Destination, len(ds))
	for i, d := range ds {
		out[i] = d.Canonical()
	}
	return out
}

// ServiceCounters is one virtual server's counters as a metrics scrape
// reads them: the service's stats and its real servers' connection counts
// summed, without the real servers themselves.
type ServiceCounters struct {
	Key           Key
	Stats         Stats
	ActiveConns   uint64
	InactiveConns uint64
}

// Counters are s's counters, its real servers' connections summed.
func (s *ServiceWithDests) Counters() ServiceCounters {
	c := ServiceCounters{Key: s.Key, Stats: s.Stats}
	for _, d := range s.Destinations {
		c.ActiveConns += uint64(d.ActiveConns)
		c.InactiveConns += uint64(d.InactiveConns)
	}
	return c
}

// CounterReader reads every virtual server's counters, ours and foreign
// alike. Unlike Dump it holds no real server: at 100,000 of them a scrape
// that dumped them all kept some 20 MB for a few numbers per service.
type CounterReader interface {
	Counters() ([]ServiceCounters, error)
}

// Kernel is the narrow interface over the kernel's IPVS table. The real
// implementation talks generic netlink in one network namespace; the fake in
// ipvs/ipvstest keeps state in memory and fails exactly where the kernel
// does. Errors wrap the kernel's errno (unix.EEXIST for adding what exists,
// unix.ESRCH for a missing service, unix.ENOENT for a missing real server),
// so callers test them with errors.Is.
type Kernel interface {
	// Dump returns every virtual server with its real servers and stats,
	// ours and foreign alike.
	Dump() ([]ServiceWithDests, error)
	// GetDestinations returns one virtual server's real servers and stats
	// (ESRCH if there is no such service). It reads only that service, so
	// watching a few services costs the same however large the table is.
	GetDestinations(Key) ([]DestinationState, error)
	AddService(Service) error
	// UpdateService changes scheduler, flags, timeout and netmask in place.
	UpdateService(Service) error
	DeleteService(Key) error
	AddDestination(Key, Destination) error
	// UpdateDestination changes weight, forwarding and thresholds in place.
	UpdateDestination(Key, Destination) error
	DeleteDestination(Key, DestKey) error
}

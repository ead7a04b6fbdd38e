package config

import (
	"net/netip"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// The accessors below return what Validate parsed; they are meaningful only
// on a Config whose Validate returned nil (as Parse and Load guarantee).

// IPVSService is the virtual server s describes, without real servers.
func (s *Service) IPVSService() ipvs.Service {
	return ipvs.Service{
		Key:       s.parsed.key,
		Scheduler: s.Scheduler,
		Flags:     s.parsed.flags,
		Timeout:   s.parsed.timeout,
		Netmask:   uint8(s.PersistenceNetmask),
	}
}

// Key is the virtual server's key.
func (s *Service) Key() ipvs.Key { return s.parsed.key }

// DrainTimeout is the reconciler's drain timeout: zero for the default,
// negative to delete removed backends at once.
func (s *Service) DrainTimeout() time.Duration { return s.parsed.drain }

// IsNAT reports whether the service's backends are reached by NAT (and so
// need masquerading and forwarding on the director).
func (s *Service) IsNAT() bool {
	nat, _ := s.forwardings()
	return nat
}

// AddrPort is the backend's address and port.
func (b *Backend) AddrPort() netip.AddrPort { return netip.AddrPortFrom(b.parsed.addr, uint16(b.Port)) }

// Destination is the real server b describes, at its configured weight.
func (b *Backend) Destination() ipvs.Destination {
	return ipvs.Destination{
		DestKey:        ipvs.DestKey{Address: b.parsed.addr, Port: uint16(b.Port)},
		Weight:         *b.Weight,
		Forwarding:     b.parsed.forwarding,
		UpperThreshold: uint32(b.UpperThreshold),
		LowerThreshold: uint32(b.LowerThreshold),
	}
}

// IntervalDuration is the time between two checks of one backend.
func (hc *HealthCheck) IntervalDuration() time.Duration { return hc.parsed.interval }

// TimeoutDuration bounds one check.
func (hc *HealthCheck) TimeoutDuration() time.Duration { return hc.parsed.timeout }

// SameParse reports whether s and o are copies of one parsed service
// (Parser hands out the one it remembers for an unchanged item), which
// are equal at no cost: their backends are one array, which no two
// parses share, and a parsed service is never changed. False says
// nothing; compare them.
func (s *Service) SameParse(o *Service) bool {
	return len(s.Backends) > 0 && len(s.Backends) == len(o.Backends) && &s.Backends[0] == &o.Backends[0]
}

package standalone

import (
	"net/netip"
	"slices"

	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
)

// AnnouncedVIPs lists, sorted, the VIPs worth announcing over BGP: those
// with at least one service that can take traffic on its own backends,
// which is at least one healthy backend of non-zero weight, and at least
// quorum of them. A service that does not qualify is still programmed as
// Translate says; only routers are steered away from this director:
//
//   - one below its quorum runs on its last quorate set, whose backends
//     are not known to be healthy;
//   - one left with only its sorry server would answer "sorry" to
//     clients that a director with healthy backends can serve: with
//     several directors announcing the VIP, the routers send them there,
//     and with none left, nobody announces the VIP;
//   - one in conflict (another program holds its virtual server in the
//     kernel) is not ours to attract traffic to;
//   - firewall-mark services have no VIP.
func AnnouncedVIPs(c *config.Config, up UpFunc, conflicts map[ipvs.Key]bool) []netip.Addr {
	var out []netip.Addr
	for i := range c.Services {
		s := &c.Services[i]
		k := s.Key()
		if k.IsFWMark() || conflicts[k] {
			continue
		}
		if healthyBackends(s, up) >= max(s.Quorum, 1) {
			out = append(out, k.Address)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// healthyBackends counts the backends of s that take new connections
// because they are healthy (or unchecked), as Translate counts them
// against the quorum.
func healthyBackends(s *config.Service, up UpFunc) int {
	n := 0
	for i := range s.Backends {
		b := &s.Backends[i]
		if *b.Weight > 0 && (s.HealthCheck == nil || up(probe.ID{Service: s.Name, Backend: b.AddrPort()})) {
			n++
		}
	}
	return n
}

package config

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// Bounds on what the file names, so that a runaway value cannot flood the
// logs, the metrics labels and the ownership record.
const (
	// MaxNameLength is a service name's limit, a Kubernetes label value's.
	MaxNameLength = 63
	// MaxPathLength bounds a health check's HTTP path, MaxHostLength its
	// Host header (a DNS name's limit).
	MaxPathLength = 1024
	MaxHostLength = 253
	// maxQuoted bounds how much of a rejected value an error repeats.
	maxQuoted = 64
)

// validName reports whether s can name a service: 1-63 letters, digits,
// '-', '_' and '.', starting and ending with a letter or digit, as a
// Kubernetes label value (it labels metrics and `ipvsd list --owners`).
func validName(s string) bool {
	return s != "" && len(validation.IsValidLabelValue(s)) == 0
}

// Validate reports every problem at once, one line each, and keeps the
// parsed values the translation needs. Call Defaults first.
func (c *Config) Validate() error {
	var p problems
	c.validate(&p)
	return p.err()
}

// validate is Validate adding to p, which may already hold what decoding
// found.
func (c *Config) validate(p *problems) {
	c.validateTop(p)
	x := newCrossCheck(len(c.Services))
	for i := range c.Services {
		s := &c.Services[i]
		path := "services" + elemLabel(i, s.Name)
		switch {
		case s.Name == "":
			p.add(path+".name", "is required")
		case !validName(s.Name):
			p.add(path+".name", "%s must be 1-%d letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
				quote(s.Name), MaxNameLength)
		default:
			x.name(i, s.Name, path, p)
		}
		if s.validate(path, p) {
			x.service(s, path, p)
		}
	}
}

// validateTop checks what is not a service.
func (c *Config) validateTop(p *problems) {
	if !netlinkutil.ValidLinkName(c.Interface) {
		p.add("interface", "%s is not a Linux interface name (1-15 bytes, not . or .., no /, : or whitespace)", quote(c.Interface))
	}
	if c.Masquerade != MasqueradeAll && c.Masquerade != MasqueradeLocal {
		p.add("masquerade", "must be %s or %s, not %s", MasqueradeAll, MasqueradeLocal, quote(c.Masquerade))
	}
	if c.Services == nil {
		p.add("services", "is required (services: [] for none)")
	}
	if c.BGP != nil {
		c.BGP.validate(p)
	}
	if c.Sync != nil {
		c.Sync.validate(p)
	}
}

// crossCheck finds what no service shows alone: a name or a virtual
// server used twice, a VIP shared by NAT and DR/TUN services. It is one
// type for the whole parse and the parse of changed services alone
// (Parser), so the two cannot disagree on what is valid.
type crossCheck struct {
	names     map[string]int
	keys      map[ipvs.Key]string
	natVIPs   map[netip.Addr]string
	otherVIPs map[netip.Addr]string
}

func newCrossCheck(n int) *crossCheck {
	return &crossCheck{names: make(map[string]int, n), keys: make(map[ipvs.Key]string, n),
		natVIPs: map[netip.Addr]string{}, otherVIPs: map[netip.Addr]string{}}
}

// name records services[i]'s valid name.
func (x *crossCheck) name(i int, name, path string, p *problems) {
	if j, dup := x.names[name]; dup {
		p.add(path+".name", "duplicate of services[%d]", j)
	}
	x.names[name] = i
}

// service records s, whose key parsed.
func (x *crossCheck) service(s *Service, path string, p *problems) {
	k, vip, nat, mixed := s.crossUse()
	if other, dup := x.keys[k]; dup {
		p.add(path, "same virtual server (%s) as services[%s]", k, other)
	}
	x.keys[k] = s.Name
	if !vip.IsValid() {
		return
	}
	// A NAT service is masqueraded by VIP and port, and the firewall
	// rejects new connections to ports of such a VIP that no service
	// claims, which would cut a DR or TUN service on the same VIP.
	if mixed {
		p.add(path+".backends", "mixes nat with dr or tun forwarding: NAT needs masquerading that would break DR and TUN replies")
	}
	if nat {
		x.natVIPs[vip] = s.Name
	} else {
		x.otherVIPs[vip] = s.Name
	}
	if a, b := x.natVIPs[vip], x.otherVIPs[vip]; a != "" && b != "" {
		p.add(path+".vip", "%s is used by NAT service %s and DR/TUN service %s; give them separate VIPs", vip, a, b)
	}
}

// validate checks one service; it returns false when the key could not be
// parsed (later cross-service checks would be noise).
func (s *Service) validate(path string, p *problems) bool {
	keyOK := s.validateKey(path, p)
	s.validateScheduling(path, p)
	s.validateBackends(path, keyOK, p)
	if s.Quorum < 0 || s.Quorum > len(s.Backends) {
		p.add(path+".quorum", "must be 0-%d (the number of backends)", len(s.Backends))
	}
	if s.HealthCheck != nil {
		s.HealthCheck.validate(path+".healthCheck", p)
	} else if s.Quorum > 0 || s.SorryServer != nil {
		p.add(path+".healthCheck", "is required with a quorum or a sorryServer (without checks every backend is up)")
	}
	return keyOK
}

// validateScheduling checks how the service schedules and forwards:
// scheduler and its flags, persistence, forwarding and drain.
func (s *Service) validateScheduling(path string, p *problems) {
	if !slices.Contains(ipvs.Schedulers, s.Scheduler) {
		p.add(path+".scheduler", "unknown scheduler %s (want one of %v)", quote(s.Scheduler), ipvs.Schedulers)
	}
	s.parsed.flags = 0
	for j, name := range s.SchedulerFlags {
		f, need, ok := ipvs.SchedulerFlag(name)
		switch {
		case !ok:
			p.add(fmt.Sprintf("%s.schedulerFlags[%d]", path, j), "unknown flag %s", quote(name))
		case need != "" && need != s.Scheduler:
			p.add(fmt.Sprintf("%s.schedulerFlags[%d]", path, j), "%s applies to the %s scheduler only", name, need)
		default:
			s.parsed.flags |= f
		}
	}
	s.parsed.timeout = 0
	if s.Persistence != "" {
		d, err := parseDuration(s.Persistence)
		switch {
		case err != nil:
			p.add(path+".persistence", "%v", err)
		case d < time.Second || d > math.MaxUint32*time.Second:
			p.add(path+".persistence", "must be 1s or more")
		default:
			s.parsed.timeout = uint32(d / time.Second)
		}
	}
	if s.PersistenceNetmask != 0 {
		max := 32
		if s.parsed.key.Family == ipvs.IPv6 {
			max = 128
		}
		if s.PersistenceNetmask < 1 || s.PersistenceNetmask > max {
			p.add(path+".persistenceNetmask", "must be a prefix length 1-%d", max)
		}
		if s.Persistence == "" {
			p.add(path+".persistenceNetmask", "needs persistence")
		}
	}
	fwd, err := ipvs.ParseForwarding(s.Forwarding)
	if err != nil || fwd == ipvs.Local {
		p.add(path+".forwarding", "must be nat, dr or tun, not %s", quote(s.Forwarding))
	}
	s.parsed.forwarding = fwd
	s.parsed.drain = 0
	if s.Drain != "" {
		d, err := parseDuration(s.Drain)
		if err != nil {
			p.add(path+".drain", "%v", err)
		}
		s.parsed.drain = d
		if err == nil && d == 0 {
			// The reconciler reads zero as "the default"; negative is
			// "delete at once", which is what drain: 0s asks for.
			s.parsed.drain = -1
		}
	}
}

// validateBackends checks the backends and the sorry server, alone and
// against each other.
func (s *Service) validateBackends(path string, keyOK bool, p *problems) {
	if len(s.Backends) == 0 && s.SorryServer == nil {
		p.add(path+".backends", "at least one backend (or a sorryServer) is required")
	}
	seen := map[netip.AddrPort]int{}
	for j := range s.Backends {
		b := &s.Backends[j]
		bpath := fmt.Sprintf("%s.backends[%d]", path, j)
		if !b.validate(bpath, s, keyOK, p) {
			continue
		}
		ap := netip.AddrPortFrom(b.parsed.addr, uint16(b.Port))
		if k, dup := seen[ap]; dup {
			p.add(bpath, "%s duplicates backends[%d]", ap, k)
		}
		seen[ap] = j
	}
	if s.SorryServer != nil {
		spath := path + ".sorryServer"
		if s.SorryServer.validate(spath, s, keyOK, p) {
			if _, dup := seen[netip.AddrPortFrom(s.SorryServer.parsed.addr, uint16(s.SorryServer.Port))]; dup {
				p.add(spath, "must not also be a backend")
			}
		}
	}
}

func (s *Service) validateKey(path string, p *problems) bool {
	ok := true
	if s.FWMark != 0 {
		if s.VIP != "" || s.Port != 0 || s.Protocol != "" {
			p.add(path, "a fwmark service has no vip, port or protocol")
			ok = false
		}
		if s.FWMark < 1 || s.FWMark > math.MaxUint32 {
			p.add(path+".fwmark", "must be 1-4294967295")
			ok = false
		}
		fam := ipvs.IPv4
		switch s.Family {
		case "", "ipv4":
		case "ipv6":
			fam = ipvs.IPv6
		default:
			p.add(path+".family", "must be ipv4 or ipv6, not %s", quote(s.Family))
			ok = false
		}
		s.parsed.key = ipvs.Key{Family: fam, FWMark: uint32(s.FWMark)}
		return ok
	}
	if s.Family != "" {
		p.add(path+".family", "applies to fwmark services only (a VIP has its own family)")
	}
	k := ipvs.Key{}
	a, err := netip.ParseAddr(s.VIP)
	switch {
	case s.VIP == "":
		p.add(path+".vip", "is required (or fwmark)")
		ok = false
	case err != nil || a.Zone() != "":
		p.add(path+".vip", "%s is not an IP address", quote(s.VIP))
		ok = false
	case !a.Unmap().IsGlobalUnicast() && !a.Unmap().IsPrivate():
		p.add(path+".vip", "%s is not a unicast address", a)
		ok = false
	default:
		k.Address = a.Unmap()
		k.Family = ipvs.FamilyOf(k.Address)
	}
	// A backend without a port inherits this one; if decoding rejected
	// it, the backend's missing port is not a mistake of its own.
	s.parsed.portRejected = p.skipped(path + ".port")
	if s.Port < 1 || s.Port > 65535 {
		p.add(path+".port", "must be 1-65535")
		ok = false
	}
	k.Port = uint16(s.Port)
	proto, err := ipvs.ParseProtocol(s.Protocol)
	if err != nil {
		p.add(path+".protocol", "must be tcp, udp or sctp, not %s", quote(s.Protocol))
		ok = false
	}
	k.Protocol = proto
	s.parsed.key = k
	return ok
}

// validate checks a backend (or the sorry server) of s. keyOK says whether
// the service's family is known, to compare the backend's with it.
func (b *Backend) validate(path string, s *Service, keyOK bool, p *problems) bool {
	ok := true
	a, err := netip.ParseAddr(b.Address)
	switch {
	case b.Address == "":
		p.add(path+".address", "is required")
		ok = false
	case err != nil || a.Zone() != "":
		p.add(path+".address", "%s is not an IP address", quote(b.Address))
		ok = false
	case !a.Unmap().IsGlobalUnicast() && !a.Unmap().IsPrivate() && !a.Unmap().IsLoopback():
		p.add(path+".address", "%s is not a unicast address", a)
		ok = false
	default:
		b.parsed.addr = a.Unmap()
		// The kernel could tunnel one family in the other, but only when
		// told the real server's family, which our netlink library never
		// sends (see ipvs.ValidateDestination).
		if keyOK && ipvs.FamilyOf(b.parsed.addr) != s.parsed.key.Family {
			p.add(path+".address", "%s is not %s like the service", b.parsed.addr, s.parsed.key.Family)
		}
	}
	minPort := 1
	if s.FWMark != 0 {
		minPort = 0 // a fwmark real server may keep each packet's port
	}
	portOK := b.Port >= minPort && b.Port <= 65535
	if !portOK && !(b.Port == 0 && s.parsed.portRejected) {
		p.add(path+".port", "must be %d-65535", minPort)
		ok = false
	}
	if b.Weight != nil && (*b.Weight < 0 || *b.Weight > math.MaxInt32) {
		p.add(path+".weight", "must be 0-2147483647")
	}
	b.parsed.forwarding = s.parsed.forwarding
	if b.Forwarding != "" {
		f, err := ipvs.ParseForwarding(b.Forwarding)
		if err != nil || f == ipvs.Local {
			p.add(path+".forwarding", "must be nat, dr or tun, not %s", quote(b.Forwarding))
		} else {
			b.parsed.forwarding = f
		}
	}
	if portOK && b.parsed.forwarding != ipvs.Masquerade && s.FWMark == 0 && b.Port != s.Port {
		// DR and TUN do not rewrite the packet, so the port cannot change.
		p.add(path+".port", "must equal the service port (%d) with %s forwarding", s.Port, forwardingName(b.parsed.forwarding))
	}
	for _, t := range []struct {
		name string
		v    int64
	}{{"upperThreshold", b.UpperThreshold}, {"lowerThreshold", b.LowerThreshold}} {
		if t.v < 0 || t.v > math.MaxUint32 {
			p.add(path+"."+t.name, "must be 0-4294967295")
		}
	}
	if b.UpperThreshold > 0 && b.LowerThreshold > b.UpperThreshold {
		p.add(path+".lowerThreshold", "must not exceed upperThreshold")
	}
	return ok
}

func (hc *HealthCheck) validate(path string, p *problems) {
	switch hc.Type {
	case "tcp":
		if hc.Path != "" || hc.Host != "" || len(hc.ExpectStatus) > 0 {
			p.add(path, "path, host and expectStatus apply to http and https checks only")
		}
	case "http", "https":
		if len(hc.Path) == 0 || hc.Path[0] != '/' {
			p.add(path+".path", "must start with /")
		} else if len(hc.Path) > MaxPathLength || strings.ContainsFunc(hc.Path, notPrintable) {
			p.add(path+".path", "must be at most %d bytes, without spaces or control characters", MaxPathLength)
		}
		if len(hc.Host) > MaxHostLength || strings.ContainsFunc(hc.Host, notPrintable) {
			p.add(path+".host", "must be at most %d bytes, without spaces or control characters", MaxHostLength)
		}
		for j, st := range hc.ExpectStatus {
			if st < 100 || st > 599 {
				p.add(fmt.Sprintf("%s.expectStatus[%d]", path, j), "must be an HTTP status 100-599")
			}
		}
	default:
		p.add(path+".type", "must be tcp, http or https, not %s", quote(hc.Type))
	}
	if hc.Port < 0 || hc.Port > 65535 {
		p.add(path+".port", "must be 1-65535")
	}
	iv, err := parseDuration(hc.Interval)
	ivOK := err == nil && iv >= 100*time.Millisecond
	if err != nil {
		p.add(path+".interval", "%v", err)
	} else if !ivOK {
		p.add(path+".interval", "must be at least 100ms")
	}
	to, err := parseDuration(hc.Timeout)
	if err != nil {
		p.add(path+".timeout", "%v", err)
	} else if to <= 0 {
		p.add(path+".timeout", "must be positive")
	} else if ivOK && to > iv {
		p.add(path+".timeout", "must not exceed the interval (%s)", iv)
	}
	hc.parsed = parsedCheck{interval: iv, timeout: to}
	if hc.Rise < 1 {
		p.add(path+".rise", "must be at least 1")
	}
	if hc.Fall < 1 {
		p.add(path+".fall", "must be at least 1")
	}
	if hc.OnFailure != OnFailureQuiesce && hc.OnFailure != OnFailureRemove {
		p.add(path+".onFailure", "must be %s or %s, not %s", OnFailureQuiesce, OnFailureRemove, quote(hc.OnFailure))
	}
}

// parseDuration accepts Go durations (300s, 1m30s, 500ms).
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s is not a duration like 2s or 1m30s", quote(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("%s is negative", quote(s))
	}
	return d, nil
}

// notPrintable is true for what cannot go into an HTTP request line or
// header unescaped.
func notPrintable(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

func forwardingName(f ipvs.Forwarding) string {
	switch f {
	case ipvs.DirectRoute:
		return "dr"
	case ipvs.Tunnel:
		return "tun"
	}
	return "nat"
}

// forwardings reports whether s has NAT backends and DR/TUN backends
// (the sorry server included).
func (s *Service) forwardings() (nat, other bool) {
	all := s.Backends
	if s.SorryServer != nil {
		all = append(slices.Clip(all), *s.SorryServer)
	}
	if len(all) == 0 {
		return s.parsed.forwarding == ipvs.Masquerade, s.parsed.forwarding != ipvs.Masquerade
	}
	for _, b := range all {
		if b.parsed.forwarding == ipvs.Masquerade {
			nat = true
		} else {
			other = true
		}
	}
	return nat, other
}

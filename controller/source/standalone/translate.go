package standalone

import (
	"net/netip"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
)

// UpFunc reports whether a checked backend of a service is healthy.
type UpFunc func(id probe.ID) bool

// Translator turns a validated config and the backends' health into
// desired state. Its only memory is each service's last set of backends
// that met the service's quorum.
type Translator struct {
	quorate map[string]map[netip.AddrPort]bool
}

// NewTranslator returns a translator with no memory.
func NewTranslator() *Translator {
	return &Translator{quorate: map[string]map[netip.AddrPort]bool{}}
}

// Notes are facts about a translation worth logging or exporting.
type Notes struct {
	// BelowQuorum lists services running on their last quorate set.
	BelowQuorum []string
	// Sorry lists services whose sorry server is in use.
	Sorry []string
}

// Translate builds the desired state:
//
//   - every service becomes a virtual server owned by its name, and its VIP
//     is bound to the dummy interface;
//   - a backend that is down is set to weight 0 (onFailure: quiesce) or
//     left out (remove, so the reconciler drains it);
//   - a service with a quorum and fewer serving backends than that keeps
//     the last set of backends that met it;
//   - a service with no serving backend gets its sorry server;
//   - NAT services on a VIP are handed to the firewall, which masquerades
//     them (all of their traffic, or only the director's own, per
//     Config.Masquerade) and accepts their forwarded replies. DR and TUN
//     services are not: their replies never come back through the
//     director, and masquerading would break them. Firewall-mark services
//     are left to the operator's own rules, which select their packets.
func (t *Translator) Translate(c *config.Config, up UpFunc) (desired.State, firewall.Desired, Notes) {
	var d desired.State
	fw := firewall.Desired{MasqueradeAll: c.Masquerade == config.MasqueradeAll}
	var notes Notes
	live := map[string]bool{}
	for i := range c.Services {
		s := &c.Services[i]
		live[s.Name] = true
		vs, n := t.service(s, up)
		if n.belowQuorum {
			notes.BelowQuorum = append(notes.BelowQuorum, s.Name)
		}
		if n.sorry {
			notes.Sorry = append(notes.Sorry, s.Name)
		}
		d.Services = append(d.Services, vs)
		if s.IsNAT() && !s.Key().IsFWMark() {
			fw.Services = append(fw.Services, firewall.VirtualServer{
				Key:          s.Key(),
				Kind:         firewall.ExternalIP,
				HasEndpoints: serving(vs.Destinations) > 0,
			})
		}
	}
	for name := range t.quorate {
		if !live[name] {
			delete(t.quorate, name)
		}
	}
	d.Addresses = d.ServiceAddresses()
	return d, fw, notes
}

type serviceNotes struct{ belowQuorum, sorry bool }

func (t *Translator) service(s *config.Service, up UpFunc) (desired.VirtualServer, serviceNotes) {
	var n serviceNotes
	vs := desired.VirtualServer{Service: s.IPVSService(), Owner: s.Name, DrainTimeout: s.DrainTimeout()}
	healthy := make(map[netip.AddrPort]bool, len(s.Backends))
	count := 0
	for i := range s.Backends {
		b := &s.Backends[i]
		ap := b.AddrPort()
		if s.HealthCheck == nil || up(probe.ID{Service: s.Name, Backend: ap}) {
			healthy[ap] = true
			if *b.Weight > 0 {
				count++
			}
		}
	}
	if s.Quorum > 0 {
		if count >= s.Quorum {
			t.quorate[s.Name] = healthy
		} else if last, ok := t.quorate[s.Name]; ok {
			healthy, n.belowQuorum = last, true
		}
	}
	remove := s.HealthCheck != nil && s.HealthCheck.OnFailure == config.OnFailureRemove
	for i := range s.Backends {
		dest := s.Backends[i].Destination()
		if !healthy[s.Backends[i].AddrPort()] {
			if remove {
				continue
			}
			dest.Weight = 0
		}
		vs.Destinations = append(vs.Destinations, dest)
	}
	if s.SorryServer != nil && serving(vs.Destinations) == 0 {
		vs.Destinations = append(vs.Destinations, s.SorryServer.Destination())
		n.sorry = true
	}
	return vs, n
}

// serving counts real servers that take new connections.
func serving(ds []ipvs.Destination) int {
	n := 0
	for _, d := range ds {
		if d.Weight > 0 {
			n++
		}
	}
	return n
}

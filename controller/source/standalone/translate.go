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
	st := newSentState()
	d := t.translateAll(c, up, &st)
	return d, st.firewall(c), st.allNotes(c)
}

// translateAll translates every service of c, recording each in st, and
// forgets the services c no longer has.
func (t *Translator) translateAll(c *config.Config, up UpFunc, st *sentState) desired.State {
	d := desired.State{Services: make([]desired.VirtualServer, 0, len(c.Services))}
	live := make(map[string]bool, len(c.Services))
	for i := range c.Services {
		s := &c.Services[i]
		live[s.Name] = true
		tr := t.Service(s, up)
		st.record(s.Name, tr)
		d.Services = append(d.Services, tr.VS)
	}
	for name := range t.quorate {
		if !live[name] {
			t.Forget(name)
		}
	}
	d.Addresses = d.ServiceAddresses()
	return d
}

// Translated is one service's share of the desired state.
type Translated struct {
	VS desired.VirtualServer
	// Firewall is the entry handed to the firewall, nil for services it
	// leaves alone (see Translate).
	Firewall *firewall.VirtualServer
	notes    serviceNotes
}

// Service translates one service of a validated config, as Translate
// does for all of them.
func (t *Translator) Service(s *config.Service, up UpFunc) Translated {
	vs, n := t.service(s, up)
	tr := Translated{VS: vs, notes: n}
	if s.IsNAT() && !s.Key().IsFWMark() {
		tr.Firewall = &firewall.VirtualServer{
			Key:          s.Key(),
			Kind:         firewall.ExternalIP,
			HasEndpoints: serving(vs.Destinations) > 0,
		}
	}
	return tr
}

// Forget drops what the translator remembers of a service that is gone.
func (t *Translator) Forget(name string) { delete(t.quorate, name) }

func (n *Notes) add(name string, sn serviceNotes) {
	if sn.belowQuorum {
		n.BelowQuorum = append(n.BelowQuorum, name)
	}
	if sn.sorry {
		n.Sorry = append(n.Sorry, name)
	}
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

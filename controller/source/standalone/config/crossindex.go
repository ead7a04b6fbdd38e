package config

import (
	"net/netip"

	"github.com/ipvsd/ipvsd/ipvs"
)

// crossIndex is crossCheck kept from one accepted file to the next: how
// many services use each name, virtual server and VIP. A reload that
// changes a few services then checks only what those touch, where
// crossCheck builds its maps from all of them (at 10,000 services a
// quarter of a one-weight reload's time, issue 15). It only tells valid
// from invalid: an invalid file goes to Parse, whose crossCheck names
// the culprits.
type crossIndex struct {
	names map[string]int
	keys  map[ipvs.Key]int
	vips  map[netip.Addr]vipUse
}

// vipUse counts the services of one VIP by how they forward.
type vipUse struct{ nat, other int }

// crossUse is what s, valid alone, claims across services: crossCheck's
// rules, in one place for both. vip is invalid for a firewall-mark
// service, which has none; nat is crossCheck's (a service mixing NAT with
// DR or TUN counts as NAT, and is invalid itself).
func (s *Service) crossUse() (k ipvs.Key, vip netip.Addr, nat, mixed bool) {
	k = s.parsed.key
	if k.IsFWMark() {
		return k, netip.Addr{}, false, false
	}
	nat, other := s.forwardings()
	return k, k.Address, nat, nat && other
}

func newCrossIndex() *crossIndex {
	return &crossIndex{names: map[string]int{}, keys: map[ipvs.Key]int{}, vips: map[netip.Addr]vipUse{}}
}

// count adds s (by +1) or takes it away (by -1).
func (x *crossIndex) count(s *Service, by int) {
	x.names[s.Name] += by
	k, vip, nat, _ := s.crossUse()
	x.keys[k] += by
	if vip.IsValid() {
		u := x.vips[vip]
		if nat {
			u.nat += by
		} else {
			u.other += by
		}
		x.vips[vip] = u
	}
}

// tryChange reports whether the services in x, without gone and with
// added, pass crossCheck; only then are they counted into x. gone must be
// counted in x, and added each valid alone.
func (x *crossIndex) tryChange(gone, added []*Service) bool {
	d := newCrossIndex()
	for _, s := range gone {
		d.count(s, -1)
	}
	for _, s := range added {
		if _, _, _, mixed := s.crossUse(); mixed {
			return false
		}
		d.count(s, +1)
	}
	for n, by := range d.names {
		if x.names[n]+by > 1 {
			return false
		}
	}
	for k, by := range d.keys {
		if x.keys[k]+by > 1 {
			return false
		}
	}
	for a, by := range d.vips {
		if u := x.vips[a]; u.nat+by.nat > 0 && u.other+by.other > 0 {
			return false
		}
	}
	x.apply(d)
	return true
}

// apply adds d's counts to x, forgetting what drops to zero.
func (x *crossIndex) apply(d *crossIndex) {
	for n, by := range d.names {
		if x.names[n] += by; x.names[n] == 0 {
			delete(x.names, n)
		}
	}
	for k, by := range d.keys {
		if x.keys[k] += by; x.keys[k] == 0 {
			delete(x.keys, k)
		}
	}
	for a, by := range d.vips {
		u := x.vips[a]
		u.nat += by.nat
		u.other += by.other
		if u == (vipUse{}) {
			delete(x.vips, a)
		} else {
			x.vips[a] = u
		}
	}
}

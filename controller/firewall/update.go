package firewall

import (
	"maps"
	"slices"
)

// Part is one owner's share of the firewall state: the virtual servers and
// hairpins of one Kubernetes Service, or of one service of the standalone
// config. Sources hand the firewall the parts that changed, so a change
// costs what it touches, not a walk of every service (issue 15).
type Part struct {
	Services []VirtualServer
	Hairpins []Hairpin
}

// Empty reports whether the part holds nothing.
func (p Part) Empty() bool { return len(p.Services) == 0 && len(p.Hairpins) == 0 }

// Update is what a source hands the firewall for one sync.
type Update struct {
	// Options are the daemon-wide settings: every field of Desired but
	// the per-owner ones, which stay empty (Services and Hairpins set here
	// count as settings: any change of them is a change of options). A
	// change of options recomputes every set, and the rules.
	Options Desired
	// Whole says Parts holds every owner's part: owners it does not name
	// have none. Otherwise Parts names only the owners that changed.
	Whole bool
	// Parts are owners' parts by owner ("ns/name"); an empty part removes
	// the owner's.
	Parts map[string]Part
}

// WholeUpdate is d as an update: d's services and hairpins are options,
// and no owner has a part. It is how the Desired-based methods (Sync,
// Check) reach the update path.
func WholeUpdate(d Desired) Update { return Update{Options: d, Whole: true} }

// State is the whole firewall state an Update sequence builds: what a
// firewall holds between syncs, and what a caller keeps while it has no
// firewall yet.
type State struct {
	Options Desired
	Parts   map[string]Part
}

// Apply merges u into s: its options replace s's, and its parts replace
// those of their owners (all of them when u is whole).
func (s *State) Apply(u Update) {
	s.Options = u.Options
	if u.Whole || s.Parts == nil {
		s.Parts = make(map[string]Part, len(u.Parts))
	}
	for o, p := range u.Parts {
		if p.Empty() {
			delete(s.Parts, o)
		} else {
			s.Parts[o] = p
		}
	}
}

// HasServices reports whether s holds a virtual server.
func (s *State) HasServices() bool {
	if len(s.Options.Services) > 0 {
		return true
	}
	for _, p := range s.Parts {
		if len(p.Services) > 0 {
			return true
		}
	}
	return false
}

// Whole is s as a whole update. The parts are shared with s.
func (s *State) Whole() Update {
	return Update{Options: s.Options, Whole: true, Parts: maps.Clone(s.Parts)}
}

// Desired is s as one Desired: the options, then every owner's virtual
// servers and hairpins, owners in name order.
func (s *State) Desired() Desired {
	d := s.Options
	d.Services = slices.Clone(s.Options.Services)
	d.Hairpins = slices.Clone(s.Options.Hairpins)
	for _, o := range slices.Sorted(maps.Keys(s.Parts)) {
		p := s.Parts[o]
		d.Services = append(d.Services, p.Services...)
		d.Hairpins = append(d.Hairpins, p.Hairpins...)
	}
	return d
}

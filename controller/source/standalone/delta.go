package standalone

import (
	"net/netip"
	"reflect"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
)

// Delta counts what a reload changes, services by name and backends by
// address and port within a service, so that every reload says in the log
// how much it adds and removes: a file cut short shows up as services
// removed, not as silence.
type Delta struct {
	ServicesAdded, ServicesRemoved, ServicesChanged int
	BackendsAdded, BackendsRemoved                  int
}

// Compare counts what going from old to cur changes. A renamed service is
// one removed and one added; a changed service is one whose settings or
// backends differ in any way.
func Compare(old, cur *config.Config) Delta {
	d, _ := Changes(old, cur)
	return d
}

// Changes is Compare, with the names of the services going from old to
// cur adds, removes or changes, in one walk: a reload needs both, and at
// 10,000 services a walk indexes them all.
func Changes(old, cur *config.Config) (Delta, []string) {
	var d Delta
	var names []string
	diffServices(old, cur, func(o, s *config.Service) {
		switch {
		case o == nil:
			d.ServicesAdded++
			d.BackendsAdded += len(s.Backends)
			names = append(names, s.Name)
		case s == nil:
			d.ServicesRemoved++
			d.BackendsRemoved += len(o.Backends)
			names = append(names, o.Name)
		default:
			d.ServicesChanged++
			added, removed := compareBackends(o.Backends, s.Backends)
			d.BackendsAdded += added
			d.BackendsRemoved += removed
			names = append(names, s.Name)
		}
	})
	return d, names
}

// diffServices calls visit for each service, matched by name, that
// differs between old and cur: (nil, s) for one added, (o, nil) for one
// removed, (o, s) for one changed in any way.
func diffServices(old, cur *config.Config, visit func(o, s *config.Service)) {
	before := make(map[string]*config.Service, len(old.Services))
	for i := range old.Services {
		before[old.Services[i].Name] = &old.Services[i]
	}
	for i := range cur.Services {
		s := &cur.Services[i]
		o, ok := before[s.Name]
		delete(before, s.Name)
		switch {
		case !ok:
			visit(nil, s)
		case !o.SameParse(s) && !reflect.DeepEqual(o, s):
			// Both are validated: their parsed values are equal too when
			// what was written is. An unchanged item of a reloaded file
			// is the same parse, spared the walk.
			visit(o, s)
		}
	}
	for i := range old.Services {
		if o, gone := before[old.Services[i].Name]; gone {
			visit(o, nil)
		}
	}
}

func compareBackends(old, cur []config.Backend) (added, removed int) {
	had := make(map[netip.AddrPort]bool, len(old))
	for i := range old {
		had[old[i].AddrPort()] = true
	}
	for i := range cur {
		ap := cur[i].AddrPort()
		if had[ap] {
			delete(had, ap)
		} else {
			added++
		}
	}
	return added, len(had)
}

// fields are d as log fields.
func (d Delta) fields() []zap.Field {
	return []zap.Field{
		zap.Int("servicesAdded", d.ServicesAdded), zap.Int("servicesRemoved", d.ServicesRemoved),
		zap.Int("servicesChanged", d.ServicesChanged),
		zap.Int("backendsAdded", d.BackendsAdded), zap.Int("backendsRemoved", d.BackendsRemoved),
	}
}

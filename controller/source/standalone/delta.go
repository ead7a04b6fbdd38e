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
	var d Delta
	before := map[string]*config.Service{}
	for i := range old.Services {
		before[old.Services[i].Name] = &old.Services[i]
	}
	for i := range cur.Services {
		s := &cur.Services[i]
		o, ok := before[s.Name]
		delete(before, s.Name)
		switch {
		case !ok:
			d.ServicesAdded++
			d.BackendsAdded += len(s.Backends)
		case !reflect.DeepEqual(o, s):
			// Both are validated: their parsed values are equal too when
			// what was written is.
			d.ServicesChanged++
			added, removed := compareBackends(o.Backends, s.Backends)
			d.BackendsAdded += added
			d.BackendsRemoved += removed
		}
	}
	for _, o := range before {
		d.ServicesRemoved++
		d.BackendsRemoved += len(o.Backends)
	}
	return d
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

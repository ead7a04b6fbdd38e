package standalone

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/ipvs"
)

// dirtySet names the services to translate again at the next sync: those
// a reload changed and those whose backends' health changed. It has its
// own lock because health transitions arrive from the checks' goroutines,
// also while the source holds its own lock to update them.
type dirtySet struct {
	mu    sync.Mutex
	names map[string]bool
	// all asks for a whole translation (at start); addresses, for the VIP
	// set to be sent again (after a reload).
	all, addresses bool
}

func (d *dirtySet) mark(names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.names == nil {
		d.names = map[string]bool{}
	}
	for _, n := range names {
		d.names[n] = true
	}
}

func (d *dirtySet) markAddresses() {
	d.mu.Lock()
	d.addresses = true
	d.mu.Unlock()
}

func (d *dirtySet) markAll() {
	d.mu.Lock()
	d.all = true
	d.mu.Unlock()
}

// take empties the set and returns what it held, names sorted.
func (d *dirtySet) take() (names []string, all, addresses bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for n := range d.names {
		names = append(names, n)
	}
	slices.Sort(names)
	all, addresses = d.all, d.addresses
	d.names, d.all, d.addresses = nil, false, false
	return names, all, addresses
}

// sentState is what the source last handed the programmer, per service:
// enough to send a changed service alone (deleting its old key if the
// change moved it) and to rebuild the firewall state and the notes without
// translating the unchanged services again.
type sentState struct {
	keys  map[string]ipvs.Key
	fw    map[string]firewall.VirtualServer
	notes map[string]serviceNotes
}

func newSentState() sentState {
	return sentState{keys: map[string]ipvs.Key{}, fw: map[string]firewall.VirtualServer{}, notes: map[string]serviceNotes{}}
}

// record notes tr as sent for name, returning the key it replaces, if any.
func (st *sentState) record(name string, tr Translated) (old ipvs.Key, moved bool) {
	old, had := st.keys[name]
	key := tr.VS.Key
	st.keys[name] = key
	if tr.Firewall != nil {
		st.fw[name] = *tr.Firewall
	} else {
		delete(st.fw, name)
	}
	if tr.notes != (serviceNotes{}) {
		st.notes[name] = tr.notes
	} else {
		delete(st.notes, name)
	}
	return old, had && old != key
}

// forget drops name, returning the key it was sent with.
func (st *sentState) forget(name string) (ipvs.Key, bool) {
	key, had := st.keys[name]
	delete(st.keys, name)
	delete(st.fw, name)
	delete(st.notes, name)
	return key, had
}

// firewall is the firewall state of c's services as last translated, in
// the config's order (as Translate builds it).
func (st *sentState) firewall(c *config.Config) firewall.Desired {
	fw := firewall.Desired{MasqueradeAll: c.Masquerade == config.MasqueradeAll}
	for i := range c.Services {
		if v, ok := st.fw[c.Services[i].Name]; ok {
			fw.Services = append(fw.Services, v)
		}
	}
	return fw
}

// firewallUpdate is the firewall update of the services named (of every
// service sent when whole): each one's entry, or none for a service gone
// or one the firewall leaves alone. It costs what it names.
func (st *sentState) firewallUpdate(c *config.Config, names []string, whole bool) firewall.Update {
	u := firewall.Update{Options: firewall.Desired{MasqueradeAll: c.Masquerade == config.MasqueradeAll}, Whole: whole}
	part := func(name string) firewall.Part {
		if v, ok := st.fw[name]; ok {
			return firewall.Part{Services: []firewall.VirtualServer{v}}
		}
		return firewall.Part{}
	}
	if whole {
		u.Parts = make(map[string]firewall.Part, len(st.fw))
		for name := range st.fw {
			u.Parts[name] = part(name)
		}
		return u
	}
	if len(names) > 0 {
		u.Parts = make(map[string]firewall.Part, len(names))
		for _, name := range names {
			u.Parts[name] = part(name)
		}
	}
	return u
}

// allNotes lists the notes of c's services, in the config's order.
func (st *sentState) allNotes(c *config.Config) Notes {
	var n Notes
	if len(st.notes) == 0 {
		return n
	}
	for i := range c.Services {
		if sn, ok := st.notes[c.Services[i].Name]; ok {
			n.add(c.Services[i].Name, sn)
		}
	}
	return n
}

// addresses are the VIPs of c's services, as desired.State.ServiceAddresses
// lists them.
func addresses(c *config.Config) []netip.Addr {
	d := desired.State{Services: make([]desired.VirtualServer, 0, len(c.Services))}
	for i := range c.Services {
		d.Services = append(d.Services, desired.VirtualServer{Service: c.Services[i].IPVSService()})
	}
	return d.ServiceAddresses()
}

package kube

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// ReasonConflict is the Problem reason of a virtual server another service
// already has (two services claiming one external IP and port).
const ReasonConflict = "VirtualServerConflict"

// State holds the latest translation of every service and turns the
// change of one service into an incremental reconciler Update. It is not
// safe for concurrent use.
type State struct {
	svcs map[string]*ServiceState
	// owner says which service ("ns/name") holds each virtual server
	// key: the first to claim a key keeps it.
	owner map[ipvs.Key]string
	addrs map[netip.Addr]int // references per VIP
	// noLocal counts the services of each NoLocal, kept as services
	// change so that reading it costs nothing per sync.
	noLocal map[NoLocal]int
	// nVS and nRS are Counts, and hc is HealthChecks, kept as services
	// change for the same reason: a sync must cost what changed, not a
	// walk of every service (issue 15).
	nVS, nRS int
	hc       map[uint16]HealthCheckTarget
	// hcChanged says HealthChecks changed since they were last taken.
	hcChanged bool
	// fwDirty names the services whose firewall part changed since
	// Firewall was last called: their entries, hairpins or the virtual
	// servers they own (an endpoint change usually touches none).
	fwDirty map[string]bool
	// Translated counts Set calls, for tests that check a change costs
	// what it touches.
	Translated int
}

// NewState returns an empty State.
func NewState() *State {
	return &State{svcs: map[string]*ServiceState{}, owner: map[ipvs.Key]string{}, addrs: map[netip.Addr]int{}, noLocal: map[NoLocal]int{},
		hc: map[uint16]HealthCheckTarget{}, hcChanged: true, fwDirty: map[string]bool{}}
}

// Set records st as the translation of service name ("ns/name"), or its
// removal when st is nil, and adds to u what the reconciler must change;
// Finish completes u once the sync's Sets are done.
// Virtual servers another service holds are dropped from st and reported
// in its Problems.
func (s *State) Set(name string, st *ServiceState, u *desired.Update) {
	s.Translated++
	old := s.svcs[name]
	keep := map[ipvs.Key]bool{}
	// owned: a virtual server of this service was newly claimed or
	// released, which opens or closes its entries.
	owned := false
	if st != nil {
		vss := st.VirtualServers[:0:0]
		for _, vs := range st.VirtualServers {
			k := vs.Key.Canonical()
			if o, ok := s.owner[k]; ok && o != name {
				st.Problems = append(st.Problems, Problem{Object: svcObject(name), Reason: ReasonConflict,
					Message: fmt.Sprintf("virtual server %s is already programmed for service %s", k, o)})
				continue
			}
			if keep[k] {
				// The service names one address and port twice (an
				// external IP equal to its cluster IP, say): the first
				// wins, as between two services.
				st.Problems = append(st.Problems, Problem{Object: svcObject(name), Reason: ReasonConflict,
					Message: fmt.Sprintf("virtual server %s is named twice by this service; the first is programmed", k)})
				continue
			}
			if _, ok := s.owner[k]; !ok {
				owned = true
			}
			s.owner[k] = name
			keep[k] = true
			vss = append(vss, vs)
		}
		st.VirtualServers = vss
		s.handOver(st, u)
	}
	if old != nil {
		for _, vs := range old.VirtualServers {
			if k := vs.Key.Canonical(); !keep[k] && s.owner[k] == name {
				delete(s.owner, k)
				u.Delete = append(u.Delete, k)
				owned = true
			}
		}
	}
	// Only this Set changes who owns this service's virtual servers, so
	// the parts of the others stay as they were.
	if owned || !sameFirewall(old, st) {
		s.fwDirty[name] = true
	}
	s.count(old, -1)
	s.count(st, 1)
	s.setHealthCheck(name, old, st)
	// Count the new references before dropping the old, so an address
	// the service keeps never drops to zero.
	changed := false
	if st != nil {
		for _, a := range st.Addresses {
			if s.addrs[a]++; s.addrs[a] == 1 {
				changed = true
			}
		}
		s.svcs[name] = st
	} else {
		delete(s.svcs, name)
	}
	if old != nil {
		for _, a := range old.Addresses {
			if s.addrs[a]--; s.addrs[a] <= 0 {
				delete(s.addrs, a)
				changed = true
			}
		}
	}
	s.countNoLocal(old, -1)
	s.countNoLocal(st, 1)
	if changed {
		u.SetAddresses = true
	}
}

// handOver adds st's virtual servers to u and drops their real servers
// from st: the State keeps the keys, not the real servers, which the
// reconciler keeps (u.HandedOver: the same slices, not a copy) (a second copy here was a
// tenth of the heap at 10,000 Services x 10 endpoints: issue 15). A
// changed service is translated afresh from the informer caches; a state
// handed over already is unchanged, and sends nothing again.
func (s *State) handOver(st *ServiceState, u *desired.Update) {
	if st.handed {
		return
	}
	u.Set = append(u.Set, st.VirtualServers...)
	u.HandedOver = true
	st.realServers = 0
	for i := range st.VirtualServers {
		st.realServers += len(st.VirtualServers[i].Destinations)
		st.VirtualServers[i].Destinations = nil
	}
	st.handed = true
}

// Finish completes u after the Sets of one sync: the addresses to bind,
// when a Set changed them. Sorting every VIP at each Set instead made a
// cold start O(Services^2): a quarter of its CPU at 5,000 Services.
func (s *State) Finish(u *desired.Update) {
	if u.SetAddresses {
		u.Addresses = s.Addresses()
	}
}

// Owner returns the service ("ns/name") holding virtual server k, or "".
func (s *State) Owner(k ipvs.Key) string { return s.owner[k.Canonical()] }

// Names returns the services held, sorted.
func (s *State) Names() []string { return slices.Sorted(maps.Keys(s.svcs)) }

// Addresses returns every VIP to bind, sorted.
func (s *State) Addresses() []netip.Addr {
	return slices.SortedFunc(maps.Keys(s.addrs), netip.Addr.Compare)
}

// Firewall returns the firewall update of the services changed since the
// last call, with base (the daemon's firewall options) as its options:
// the part of each service whose firewall state changed, or, when whole,
// of every service. It costs what changed, except when whole (a full
// resync), which walks every service.
func (s *State) Firewall(base firewall.Desired, whole bool) firewall.Update {
	u := firewall.Update{Options: base, Whole: whole}
	if whole {
		u.Parts = make(map[string]firewall.Part, len(s.svcs))
		for n := range s.svcs {
			if p := s.part(n); !p.Empty() {
				u.Parts[n] = p
			}
		}
	} else if len(s.fwDirty) > 0 {
		u.Parts = make(map[string]firewall.Part, len(s.fwDirty))
		for n := range s.fwDirty {
			u.Parts[n] = s.part(n)
		}
	}
	clear(s.fwDirty)
	return u
}

// part is the firewall part of service name: its entries for the
// virtual servers it owns (a virtual server lost to a conflict is not
// its to open; node ports have no owner) and its hairpins. Empty for a
// service not held.
func (s *State) part(name string) firewall.Part {
	st := s.svcs[name]
	if st == nil {
		return firewall.Part{}
	}
	p := firewall.Part{Services: st.Firewall, Hairpins: st.Hairpins}
	notOurs := func(f firewall.VirtualServer) bool {
		return f.Kind != firewall.NodePort && s.owner[f.Key.Canonical()] != name
	}
	// Copy only when one is left out: usually none is, and the
	// translation's slice is shared, read-only.
	if slices.ContainsFunc(st.Firewall, notOurs) {
		p.Services = slices.DeleteFunc(slices.Clone(st.Firewall), notOurs)
	}
	return p
}

// sameFirewall reports whether a service's firewall part is unchanged
// (nil: no service). DeepEqual because entries hold source-range slices;
// the cost is that of one service.
func sameFirewall(a, b *ServiceState) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.DeepEqual(a.Firewall, b.Firewall) && reflect.DeepEqual(a.Hairpins, b.Hairpins)
}

// HealthChecks returns the health-check node ports by port, and whether
// they changed since the last call. The map is the State's: read it, do
// not keep or change it.
func (s *State) HealthChecks() (map[uint16]HealthCheckTarget, bool) {
	changed := s.hcChanged
	s.hcChanged = false
	return s.hc, changed
}

// setHealthCheck replaces service name's health-check port (old's) by
// st's. Two services on one port: the last set holds it.
func (s *State) setHealthCheck(name string, old, st *ServiceState) {
	if old != nil && old.HealthCheck != nil {
		if p := old.HealthCheck.Port; s.hc[p].Service == name {
			delete(s.hc, p)
			s.hcChanged = true
		}
	}
	if st != nil && st.HealthCheck != nil {
		t := HealthCheckTarget{Service: name, LocalEndpoints: st.HealthCheck.LocalEndpoints}
		if cur, ok := s.hc[st.HealthCheck.Port]; !ok || cur != t {
			s.hc[st.HealthCheck.Port] = t
			s.hcChanged = true
		}
	}
}

// NoLocalCounts counts the services of each NoLocal, for kube-proxy's
// no_local_endpoints metric. The map is the State's: read it, do not keep
// or change it.
func (s *State) NoLocalCounts() map[NoLocal]int { return s.noLocal }

// countNoLocal adds d for each NoLocal of st (nil: none).
func (s *State) countNoLocal(st *ServiceState, d int) {
	if st == nil {
		return
	}
	for _, n := range st.NoLocal {
		if s.noLocal[n] += d; s.noLocal[n] == 0 {
			delete(s.noLocal, n)
		}
	}
}

// HealthCheckTarget is what one health-check node port reports.
type HealthCheckTarget struct {
	Service        string // "ns/name"
	LocalEndpoints int
}

// Counts returns the number of virtual servers and real servers held.
func (s *State) Counts() (services, realServers int) { return s.nVS, s.nRS }

// count adds d times st's virtual and real servers to the counts.
func (s *State) count(st *ServiceState, d int) {
	if st == nil {
		return
	}
	s.nVS += d * len(st.VirtualServers)
	s.nRS += d * st.realServers
}

// ServiceObject refers to a Service by its "ns/name", for Events.
func ServiceObject(name string) corev1.ObjectReference { return svcObject(name) }

// svcObject refers to a Service by its "ns/name".
func svcObject(name string) corev1.ObjectReference {
	ns, n, _ := strings.Cut(name, "/")
	return corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: ns, Name: n}
}

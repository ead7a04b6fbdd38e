package kube

import (
	"fmt"
	"maps"
	"net/netip"
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
}

// NewState returns an empty State.
func NewState() *State {
	return &State{svcs: map[string]*ServiceState{}, owner: map[ipvs.Key]string{}, addrs: map[netip.Addr]int{}, noLocal: map[NoLocal]int{}}
}

// Set records st as the translation of service name ("ns/name"), or its
// removal when st is nil, and adds to u what the reconciler must change.
// Virtual servers another service holds are dropped from st and reported
// in its Problems.
func (s *State) Set(name string, st *ServiceState, u *desired.Update) {
	old := s.svcs[name]
	keep := map[ipvs.Key]bool{}
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
			s.owner[k] = name
			keep[k] = true
			vss = append(vss, vs)
		}
		st.VirtualServers = vss
		u.Set = append(u.Set, vss...)
	}
	if old != nil {
		for _, vs := range old.VirtualServers {
			if k := vs.Key.Canonical(); !keep[k] && s.owner[k] == name {
				delete(s.owner, k)
				u.Delete = append(u.Delete, k)
			}
		}
	}
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
	if changed || u.SetAddresses {
		u.Addresses, u.SetAddresses = s.Addresses(), true
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

// Firewall returns base (the daemon's firewall options) with every
// service's virtual servers and hairpins added. The firewall diffs its
// sets against what it applied, so building the whole value costs memory
// but no kernel writes.
func (s *State) Firewall(base firewall.Desired) firewall.Desired {
	d := base
	d.Services = slices.Clone(base.Services)
	d.Hairpins = slices.Clone(base.Hairpins)
	for _, n := range s.Names() {
		st := s.svcs[n]
		for _, f := range st.Firewall {
			// A virtual server lost to a conflict is not ours to open.
			if f.Kind == firewall.NodePort || s.owner[f.Key.Canonical()] == n {
				d.Services = append(d.Services, f)
			}
		}
		d.Hairpins = append(d.Hairpins, st.Hairpins...)
	}
	return d
}

// HealthChecks returns the health-check node ports by port.
func (s *State) HealthChecks() map[uint16]HealthCheckTarget {
	out := map[uint16]HealthCheckTarget{}
	for n, st := range s.svcs {
		if st.HealthCheck != nil {
			out[st.HealthCheck.Port] = HealthCheckTarget{Service: n, LocalEndpoints: st.HealthCheck.LocalEndpoints}
		}
	}
	return out
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
func (s *State) Counts() (services, realServers int) {
	for _, st := range s.svcs {
		services += len(st.VirtualServers)
		for _, vs := range st.VirtualServers {
			realServers += len(vs.Destinations)
		}
	}
	return services, realServers
}

// ServiceObject refers to a Service by its "ns/name", for Events.
func ServiceObject(name string) corev1.ObjectReference { return svcObject(name) }

// svcObject refers to a Service by its "ns/name".
func svcObject(name string) corev1.ObjectReference {
	ns, n, _ := strings.Cut(name, "/")
	return corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: ns, Name: n}
}

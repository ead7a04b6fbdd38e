package inspect

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Foreign is the owner label of a virtual server ipvsd did not create.
const Foreign = "(foreign)"

// Owners returns the owner label of each virtual server: the label the
// record gives it, or Foreign.
func Owners(record runstate.Record) func(ipvs.Key) string {
	return func(k ipvs.Key) string {
		o, ok := record.Services[k.Canonical()]
		switch {
		case !ok:
			return Foreign
		case o == "":
			return "ipvsd"
		}
		return o
	}
}

// Kinds of drift.
const (
	Missing  = "missing"  // desired, not in the kernel
	Extra    = "extra"    // in the kernel, owned by ipvsd, not desired
	Changed  = "changed"  // in both, with different parameters
	Conflict = "foreign"  // desired, but the kernel's was not created by ipvsd
	Draining = "draining" // a removed real server at weight 0, still draining
)

// Drift is one virtual server on which the desired state and the kernel
// disagree.
type Drift struct {
	Kind    string `json:"kind"`
	Service string `json:"service"`
	Owner   string `json:"owner,omitempty"`
	// Changes say what differs in the service itself, kernel value first.
	Changes      []string    `json:"changes,omitempty"`
	Destinations []DestDrift `json:"destinations,omitempty"`
}

// DestDrift is one real server that differs.
type DestDrift struct {
	Kind        string   `json:"kind"`
	Destination string   `json:"destination"`
	Changes     []string `json:"changes,omitempty"`
}

// Settled reports whether d is only the daemon's own work in progress
// (real servers draining), not a disagreement.
func (d Drift) Settled() bool {
	if d.Kind != Changed || len(d.Changes) > 0 {
		return false
	}
	for _, dd := range d.Destinations {
		if dd.Kind != Draining {
			return false
		}
	}
	return true
}

// Compare returns, in key order, the virtual servers on which desired
// and actual disagree: empty when they agree. record says which kernel
// services ipvsd owns: an owned service that is not desired is extra, a
// desired one that is not owned is a conflict; foreign services that are
// not desired are none of ipvsd's business and never reported. The
// comparison is desired.Diff's, so it reports exactly what the next
// full resync would change.
func Compare(want []desired.VirtualServer, actual []ipvs.ServiceWithDests, record runstate.Record) []Drift {
	byKey := make(map[ipvs.Key]*desired.VirtualServer, len(want))
	for i := range want {
		byKey[want[i].Key.Canonical()] = &want[i]
	}
	have := make(map[ipvs.Key]*ipvs.ServiceWithDests, len(actual))
	for i := range actual {
		have[actual[i].Key.Canonical()] = &actual[i]
	}
	keys := slices.Collect(maps.Keys(byKey))
	for k := range have {
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, ipvs.Key.Compare)
	var out []Drift
	for _, k := range keys {
		w, h := byKey[k], have[k]
		owner, owned := record.Services[k]
		switch {
		case h == nil:
			out = append(out, Drift{Kind: Missing, Service: k.String(), Owner: w.Owner})
		case w == nil:
			if owned {
				out = append(out, Drift{Kind: Extra, Service: k.String(), Owner: owner})
			}
		case !owned:
			out = append(out, Drift{Kind: Conflict, Service: k.String(), Owner: w.Owner,
				Changes: []string{"exists in the kernel but was not created by ipvsd"}})
		default:
			if d := compareService(w, h); d != nil {
				out = append(out, *d)
			}
		}
	}
	return out
}

func compareService(w *desired.VirtualServer, h *ipvs.ServiceWithDests) *Drift {
	written := h.Config()
	ops := desired.Diff(w, &written)
	if len(ops) == 0 {
		return nil
	}
	d := &Drift{Kind: Changed, Service: w.Key.String(), Owner: w.Owner}
	haveDests := map[ipvs.DestKey]ipvs.Destination{}
	for _, hd := range written.Destinations {
		haveDests[hd.DestKey] = hd
	}
	for _, op := range ops {
		switch op.Kind {
		case desired.OpUpdateService:
			d.Changes = serviceChanges(h.Service.Canonical(), op.Service)
		case desired.OpAddDest:
			d.Destinations = append(d.Destinations, DestDrift{Kind: Missing, Destination: op.Dest.DestKey.String(),
				Changes: []string{fmt.Sprintf("want weight %d %s", op.Dest.Weight, op.Dest.Forwarding)}})
		case desired.OpUpdateDest:
			d.Destinations = append(d.Destinations, DestDrift{Kind: Changed, Destination: op.Dest.DestKey.String(),
				Changes: destChanges(haveDests[op.Dest.DestKey], op.Dest)})
		case desired.OpDrainDest, desired.OpDeleteDest:
			kind := Extra
			if op.Kind == desired.OpDrainDest && haveDests[op.Dest.DestKey].Weight == 0 {
				kind = Draining
			}
			d.Destinations = append(d.Destinations, DestDrift{Kind: kind, Destination: op.Dest.DestKey.String()})
		}
	}
	return d
}

// serviceChanges says how the kernel's service differs from the wanted
// one, both canonical.
func serviceChanges(have, want ipvs.Service) []string {
	var c []string
	add := func(name string, h, w any) {
		if h != w {
			c = append(c, fmt.Sprintf("%s %v, want %v", name, h, w))
		}
	}
	add("scheduler", have.Scheduler, want.Scheduler)
	add("flags", flagList(have.Flags), flagList(want.Flags))
	add("timeout", have.Timeout, want.Timeout)
	add("netmask", have.Netmask, want.Netmask)
	add("pe", orNone(have.PEName), orNone(want.PEName))
	return c
}

func destChanges(have, want ipvs.Destination) []string {
	var c []string
	add := func(name string, h, w any) {
		if h != w {
			c = append(c, fmt.Sprintf("%s %v, want %v", name, h, w))
		}
	}
	add("weight", have.Weight, want.Weight)
	add("forwarding", have.Forwarding, want.Forwarding)
	add("upper threshold", have.UpperThreshold, want.UpperThreshold)
	add("lower threshold", have.LowerThreshold, want.LowerThreshold)
	return c
}

func flagList(f ipvs.Flags) string { return orNone(strings.Join(f.Names(), ",")) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

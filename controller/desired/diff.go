package desired

import (
	"slices"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Diff returns the operations that take one virtual server from actual to
// desired, in the order they must run. It is pure: no kernel, no clock.
//
//   - desired nil: delete the virtual server (at once: the kernel drops its
//     real servers with it; see the package doc for why services do not
//     drain).
//   - actual nil: add the virtual server, then its real servers.
//   - both: update the service in place if its scheduling parameters
//     differ, add new real servers, update changed ones, and only then
//     remove stale ones, so capacity never dips below the desired set.
//
// A stale real server is drained (OpDrainDest) when the service is TCP or
// a firewall mark and draining is enabled; UDP and SCTP real servers are
// deleted at once, because IPVS keeps scheduling datagrams of an existing
// UDP "connection" to a weight-0 real server until its entry expires, so
// waiting gains nothing.
func Diff(want *VirtualServer, actual *ipvs.ServiceConfig) []Op {
	if want == nil {
		return DiffNormalized(nil, actual)
	}
	n := want.Normalize()
	return DiffNormalized(&n, actual)
}

// DiffNormalized is Diff for a normalized desired value (as the reconciler keeps
// them), walking both sorted real server lists in step.
func DiffNormalized(want *VirtualServer, actual *ipvs.ServiceConfig) []Op {
	if want == nil {
		if actual == nil {
			return nil
		}
		return []Op{{Kind: OpDeleteService, Service: actual.Service.Canonical()}}
	}
	var ops []Op
	var have []ipvs.Destination
	if actual == nil {
		// Sized at once: a cold start diffs 100,000 real servers this way,
		// and growing each slice by appends tripled what it allocated.
		ops = make([]Op, 0, 1+len(want.Destinations))
		ops = append(ops, Op{Kind: OpAddService, Service: want.Service})
	} else {
		if actual.Service.Canonical() != want.Service {
			ops = append(ops, Op{Kind: OpUpdateService, Service: want.Service})
		}
		have = actual.Destinations
		if !slices.IsSortedFunc(have, cmpDest) {
			have = slices.Clone(have)
			sortDests(have)
		}
	}
	var updates, stale []Op
	kind := OpDrainDest
	if !drains(want) {
		kind = OpDeleteDest
	}
	w, h := want.Destinations, have
	for len(w) > 0 || len(h) > 0 {
		c := 0
		switch {
		case len(w) == 0:
			c = 1
		case len(h) == 0:
			c = -1
		default:
			c = w[0].DestKey.Compare(h[0].DestKey)
		}
		switch {
		case c < 0:
			ops = append(ops, Op{Kind: OpAddDest, Service: want.Service, Dest: w[0]})
			w = w[1:]
		case c > 0:
			stale = append(stale, Op{Kind: kind, Service: want.Service, Dest: h[0].Canonical()})
			h = h[1:]
		default:
			if h[0].Canonical() != w[0] {
				updates = append(updates, Op{Kind: OpUpdateDest, Service: want.Service, Dest: w[0]})
			}
			w, h = w[1:], h[1:]
		}
	}
	// Adds, then updates, then removals: capacity never dips below the
	// desired set while the change is under way.
	ops = append(ops, updates...)
	return append(ops, stale...)
}

// drains reports whether stale real servers of vs are drained rather than
// deleted at once.
func drains(vs *VirtualServer) bool {
	if vs.DrainTimeout < 0 {
		return false
	}
	// A firewall-mark service may carry any protocol; treat it as TCP.
	return vs.IsFWMark() || vs.Protocol == ipvs.TCP
}

func sortDests(ds []ipvs.Destination) { slices.SortFunc(ds, cmpDest) }

func cmpDest(a, b ipvs.Destination) int { return a.DestKey.Compare(b.DestKey) }

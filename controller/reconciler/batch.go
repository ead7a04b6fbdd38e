package reconciler

import (
	"fmt"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Batching (issue 15). When the kernel is an ipvs.Batcher, the writes of
// a group of plans go out ahead of applyPlan, many per sendmsg instead of
// one round trip each; applyPlan then takes each outcome in order (write)
// where it would have made the call, so the model, counts, retries and
// errors follow exactly as before. Only writes that applyPlan makes
// whatever the outcomes before them go ahead: a new service's real
// servers only once the service was added (one round for the adds, one
// for what follows them); drains and real-server deletes, which applyPlan
// holds back after a failed add and which touch the drainer, never.
const (
	// groupPlans and groupWrites bound a group: its diffed ops are held
	// until it is applied (a plan holds none otherwise, see plan).
	groupPlans  = 256
	groupWrites = 4096
)

// aheadWrite is the outcome of one write made ahead of applyPlan.
type aheadWrite struct {
	w   ipvs.Write
	err error
}

// sendAhead diffs a group of plans from the start of plans, carries out
// ahead what can go ahead, and returns the group's size. Without a
// Batcher the group is one plan and nothing goes ahead.
func (r *Reconciler) sendAhead(plans []plan) int {
	b, ok := r.deps.Kernel.(ipvs.Batcher)
	if !ok {
		return 1
	}
	n, writes := 0, 0
	for n < len(plans) && n < groupPlans && writes < groupWrites {
		plans[n].diffed, plans[n].isDiffed = plans[n].ops(), true
		writes += len(plans[n].diffed)
		n++
	}
	group := plans[:n]
	// Each plan's outcomes go in one slice for the group, each plan's part
	// with room for what can go ahead of it: appending to a slice per plan
	// was a sixth of what a cold start allocated.
	room := 0
	for i := range group {
		room += canGoAhead(group[i].diffed)
	}
	outcomes := make([]aheadWrite, room)
	for i := range group {
		k := canGoAhead(group[i].diffed)
		group[i].ahead, outcomes = outcomes[:0:k], outcomes[k:]
	}
	r.runAhead(b, group, func(ops []desired.Op, _ []aheadWrite) []desired.Op {
		return ops[:firstRound(ops)]
	})
	r.runAhead(b, group, func(ops []desired.Op, done []aheadWrite) []desired.Op {
		m := len(done)
		if m == 0 || ops[m-1].Kind != desired.OpAddService || done[m-1].err != nil {
			return nil
		}
		return ops[m:canGoAhead(ops)]
	})
	return n
}

// runAhead carries out, in one batch, the ops pick chooses of each plan
// of group, and appends their outcomes to the plans' ahead.
func (r *Reconciler) runAhead(b ipvs.Batcher, group []plan, pick func([]desired.Op, []aheadWrite) []desired.Op) {
	// The batch's buffers are the reconciler's, kept between batches.
	ws, owner := r.batchWrites[:0], r.batchOwner[:0]
	defer func() {
		clear(ws) // what they point to may go
		r.batchWrites, r.batchOwner = ws[:0], owner[:0]
	}()
	for i := range group {
		for _, op := range pick(group[i].diffed, group[i].ahead) {
			ws = append(ws, writeOf(op))
			owner = append(owner, i)
		}
	}
	if len(ws) == 0 {
		return
	}
	for j, err := range b.Apply(ws) {
		p := &group[owner[j]]
		p.ahead = append(p.ahead, aheadWrite{w: ws[j], err: err})
	}
}

// canGoAhead is how many of ops, from the first, can be sent before any
// outcome is known but that of a service's add.
func canGoAhead(ops []desired.Op) int {
	for i, op := range ops {
		switch op.Kind {
		case desired.OpAddService, desired.OpUpdateService, desired.OpDeleteService, desired.OpAddDest, desired.OpUpdateDest:
		default:
			return i
		}
	}
	return len(ops)
}

// firstRound is what goes in the first round: up to a service's add,
// whose real servers must wait for its outcome.
func firstRound(ops []desired.Op) int {
	n := canGoAhead(ops)
	for i, op := range ops[:n] {
		if op.Kind == desired.OpAddService {
			return i + 1
		}
	}
	return n
}

// writeOf is the kernel write an op makes.
func writeOf(op desired.Op) ipvs.Write {
	w := ipvs.Write{Service: op.Service, Dest: op.Dest}
	switch op.Kind {
	case desired.OpAddService:
		w.Op = ipvs.WriteAddService
	case desired.OpUpdateService:
		w.Op = ipvs.WriteUpdateService
	case desired.OpDeleteService:
		w.Op = ipvs.WriteDeleteService
	case desired.OpAddDest:
		w.Op = ipvs.WriteAddDest
	case desired.OpUpdateDest:
		w.Op = ipvs.WriteUpdateDest
	case desired.OpDeleteDest:
		w.Op = ipvs.WriteDeleteDest
	}
	return w
}

// write carries out op's kernel write, or takes its outcome when it went
// ahead (r.ahead, set by applyPlan to the plan's).
func (r *Reconciler) write(op desired.Op) error {
	w := writeOf(op)
	if len(r.ahead) == 0 {
		return w.On(r.deps.Kernel)
	}
	a := r.ahead[0]
	r.ahead = r.ahead[1:]
	if a.w.Op != w.Op || a.w.Service.Key != w.Service.Key || a.w.Dest.DestKey != w.Dest.DestKey {
		// Cannot happen while applyPlan and sendAhead agree; if it did, the
		// kernel holds writes the model lacks: the caller re-reads it.
		r.ahead = nil
		r.resync.request()
		return fmt.Errorf("write %v %s %s out of step with the batch (had %v %s %s)",
			w.Op, w.Service.Key, w.Dest.DestKey, a.w.Op, a.w.Service.Key, a.w.Dest.DestKey)
	}
	return a.err
}

package dataplane

import (
	"context"
	"fmt"
	"maps"

	"github.com/ipvsd/ipvsd/controller/firewall"
)

// The periodic firewall repair compares every ipset and rule with the
// kernel (ipset save, iptables-save and a compare of the whole state):
// 74 ms natively at 10,000 Services (go test -run '^$' -bench Check10k
// ./controller/firewall/hosttest/, as root), 2.2 s under emulation, and a
// change that came during it waited for all of it, one of the two slowest
// of 200 (issue 15's p99 of event-to-kernel latency). In Run the periodic
// repair therefore goes beside the syncs, on the firewall's own lock: the
// syncs meanwhile program IPVS and keep their firewall updates, merged,
// for the first sync after the repair. The cold start, a repair after a
// failure and SyncOnce still repair in line: there the firewall must be
// in place when the sync ends.

// fwRepair is a firewall repair under way beside the syncs.
type fwRepair struct {
	done chan struct{} // closed when err is set
	err  error
}

// startRepair repairs the firewall with u beside the syncs, and asks for
// a sync when it is done.
func (p *Programmer) startRepair(ctx context.Context, u firewall.Update) {
	r := &fwRepair{done: make(chan struct{})}
	p.repairing = r
	fw := p.fw
	go func() {
		_, r.err = fw.Repair(ctx, u)
		close(r.done)
		p.Trigger()
	}()
}

// afterRepair is u to apply now, with the updates kept during a repair
// beside the syncs once it is done, and that repair's error; ok false: it
// is still under way and u was kept.
func (p *Programmer) afterRepair(u firewall.Update) (next firewall.Update, ok bool, err error) {
	r := p.repairing
	if r == nil {
		return u, true, nil
	}
	p.fwPending = mergeUpdates(p.fwPending, u)
	select {
	case <-r.done:
	default:
		return firewall.Update{}, false, nil
	}
	p.repairing = nil
	next, p.fwPending = p.fwPending, firewall.Update{}
	if r.err != nil {
		// Compared with the kernel again, in line, by this sync.
		p.fwCheckDue = true
		err = fmt.Errorf("repairing beside the syncs: %w", r.err)
	}
	return next, true, err
}

// mergeUpdates is a followed by b, as one update: b's options, and each
// owner's latest part (all of b's when b is whole). It owns its parts.
func mergeUpdates(a, b firewall.Update) firewall.Update {
	if b.Whole || a.Parts == nil && !a.Whole {
		b.Parts = maps.Clone(b.Parts)
		if b.Parts == nil {
			b.Parts = map[string]firewall.Part{}
		}
		return b
	}
	a.Options = b.Options
	maps.Copy(a.Parts, b.Parts)
	return a
}

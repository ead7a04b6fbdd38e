// Package gcpace paces Go's garbage collector so that the heap grows only a
// little above what is live.
//
// With Go's default GOGC=100 the heap grows to twice what is live before a
// collection, so the daemon's peak RSS is about twice its state: 440 MB
// after a cold start of 10,000 Services x 10 endpoints in the lab, with a
// live heap of 160 MB (issue 15's target is 150 MiB). A soft memory limit
// a quarter above the live heap, re-read every 5 s, bounded that but
// lagged behind a full resync, whose dump grows the live heap by a third
// within seconds: the heap then sat at the limit and the collector ran
// back to back, 53 % of the CPU samples while a change waited 247 s
// behind the resync. GOGC sets the next collection's goal from the live
// heap the last one found, so it follows any growth at once; the
// percentage here gives the heap Headroom over what is live, more while
// the heap is below a floor (at most GOGC=100, Go's default), so a small
// daemon does not collect after every few allocations. It is set again
// after every collection, and GOGC or GOMEMLIMIT in the environment, when
// set, win.
package gcpace

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"

	"go.uber.org/zap"
)

// Config sets how far above the live heap the heap may grow.
type Config struct {
	// Headroom is the growth over the live heap, as a fraction of it
	// (0.25: a quarter).
	Headroom float64
	// Floor is the least heap the collector waits for, live and garbage
	// together, so that a small heap is not collected after every few
	// allocations; above Floor/(1+Headroom) of live heap it no longer
	// matters. A floor on the room over the live heap instead (48 MiB,
	// before) added to the heap at every size: at 10,000 Services x 10
	// endpoints the cold start's heap could reach 130 MB over a live 82.
	Floor uint64
	// SettledFloor replaces Floor once the daemon has settled
	// (Pacer.Settle: its cold start is programmed). What it allocates
	// then is a change at a time and a full resync's dump, so a lower
	// floor collects little more often; the cold start allocates
	// gigabytes and needs the room to go fast. 0 keeps Floor.
	SettledFloor uint64
}

// Default is ipvsd's setting: an eighth over the live heap, and a heap of
// 64 MiB at least during the cold start, 32 MiB after it. A cold start
// of 1,000 Services x 10 endpoints (a live heap of some 15 MB) thus keeps
// the room it had with 48 MiB over the live heap, which it needs: with 16
// MiB of room, a cold start of 10,000 Services collected five times as
// often and took twice as long against ipvsadm -R in the lab.
//
// An eighth, not a quarter: at 10,000 Services x 10 endpoints the peak
// came while a full resync's dump was held (a live heap of some 110 MB),
// or at the end of the cold start (some 105 MB live while its writes are
// planned), and a quarter over either was 26-28 MB of the resident set.
// The cold start at that size took 0.12 times ipvsadm -R of its table,
// so it can afford to collect more often.
var Default = Config{Headroom: 0.125, Floor: 64 << 20, SettledFloor: 32 << 20}

// Percent is the GOGC for a live heap of live bytes, a headroom and a
// floor of floor bytes: headroom*100 at least, more when the floor is
// above the live heap and its headroom, at most 100 (Go's default).
func Percent(live uint64, headroom float64, floor uint64) int {
	if live == 0 {
		return 100
	}
	p := headroom * 100
	if floor > live {
		p = max(p, float64(floor-live)*100/float64(live))
	}
	return int(min(p, 100))
}

const liveHeap = "/gc/heap/live:bytes"

// Pacer keeps GOGC following the live heap; see Keep.
type Pacer struct {
	c     Config
	paced bool
	log   *zap.Logger

	mu      sync.Mutex
	floor   uint64
	last    int
	settled bool
}

// Settle switches to c.SettledFloor at once. Safe to call more than once,
// from any goroutine, and on a nil Pacer or one the environment overrode.
func (p *Pacer) Settle() {
	if p == nil || !p.paced {
		return
	}
	p.mu.Lock()
	first := !p.settled
	p.settled = true
	if p.c.SettledFloor != 0 {
		p.floor = p.c.SettledFloor
	}
	floor := p.floor
	p.mu.Unlock()
	if first {
		p.log.Info("garbage collection settled", zap.Uint64("floorBytes", floor))
	}
	p.set()
}

// set sets GOGC from the live heap the last collection found.
func (p *Pacer) set() {
	sample := []metrics.Sample{{Name: liveHeap}}
	metrics.Read(sample)
	var live uint64
	if sample[0].Value.Kind() == metrics.KindUint64 {
		live = sample[0].Value.Uint64()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := Percent(live, p.c.Headroom, p.floor)
	if pct == p.last {
		return
	}
	debug.SetGCPercent(pct)
	p.log.Debug("garbage collection paced", zap.Int("gogc", pct), zap.Uint64("liveBytes", live))
	p.last = pct
}

// Keep sets GOGC from the live heap, again after every collection, until
// ctx is done. Re-reading the live heap on a timer (every 5 s, before)
// let a cold start, whose live heap grows by tens of megabytes a second,
// run on a percentage set for a heap a fraction of its size: its peak was
// some 1.85 times its live heap. After each collection costs nothing when
// nothing is allocated. Keep does nothing when getenv("GOGC") or
// getenv("GOMEMLIMIT") is set: the operator chose how to collect.
func Keep(ctx context.Context, c Config, getenv func(string) string, log *zap.Logger) *Pacer {
	p := &Pacer{c: c, log: log, floor: c.Floor, last: -1}
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if getenv(v) != "" {
			log.Info("garbage collection paced by the environment", zap.String(v, getenv(v)))
			return p
		}
	}
	p.paced = true
	p.set()
	log.Info("garbage collection paced", zap.Int("gogc", p.last), zap.Float64("headroom", c.Headroom), zap.Uint64("floorBytes", c.Floor))
	afterEachGC(func() bool {
		if ctx.Err() != nil {
			return false
		}
		p.set()
		return true
	})
	return p
}

// sentinel is garbage from its birth; its cleanup runs after the
// collection that finds it. The pointer keeps it out of the tiny
// allocator, whose objects may never be cleaned up.
type sentinel struct{ _ *int }

// afterEachGC calls fn, on the runtime's cleanup goroutine, after each
// garbage collection until fn returns false.
func afterEachGC(fn func() bool) {
	runtime.AddCleanup(new(sentinel), func(fn func() bool) {
		if fn() {
			afterEachGC(fn)
		}
	}, fn)
}

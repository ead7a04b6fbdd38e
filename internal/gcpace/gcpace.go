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
// percentage here gives the heap Headroom over what is live, but at
// least Min bytes of it (at most GOGC=100, Go's default), so a small
// daemon does not collect after every few allocations. Nothing runs at
// idle beyond one cheap runtime/metrics read per interval, and GOGC or
// GOMEMLIMIT in the environment, when set, win.
package gcpace

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Config sets how far above the live heap the heap may grow.
type Config struct {
	// Headroom is the growth over the live heap, as a fraction of it
	// (0.25: a quarter).
	Headroom float64
	// Min is the least growth in bytes.
	Min uint64
	// SettledMin replaces Min once the daemon has settled (Pacer.Settle:
	// its cold start is programmed). What it allocates then is a change
	// at a time and a full resync's dump, so less room collects little
	// more often, and the room a cold start needs to go fast no longer
	// adds to the resident set. 0 keeps Min.
	SettledMin uint64
	// Every is how often the live heap is read.
	Every time.Duration
}

// Default is ipvsd's setting: a quarter over the live heap, at least 48
// MiB, checked every 5 s. With 16 MiB at least, a cold start of 10,000
// Services x 10 endpoints, which allocates gigabytes while its live heap
// grows from nothing, collected five times as often as under the soft
// limit before (whose floor, 128 MiB in all, left some 50 MiB over the
// live heap), and took twice as long against ipvsadm -R in the lab.
//
// Settled, at least 16 MiB: at 10,000 Services x 10 endpoints the live heap
// is some 85 MB, so 48 MiB of room was a third of the daemon's anonymous
// memory, and its peak was reached after the cold start, while a full
// resync's dump was held.
var Default = Config{Headroom: 0.25, Min: 48 << 20, SettledMin: 16 << 20, Every: 5 * time.Second}

// Percent is the GOGC for a live heap of live bytes: between
// Headroom*100 and 100.
func (c Config) Percent(live uint64) int {
	p := c.Headroom * 100
	if live > 0 {
		p = max(p, float64(c.Min)*100/float64(live))
	} else {
		p = 100
	}
	return int(min(p, 100))
}

const liveHeap = "/gc/heap/live:bytes"

// Pacer keeps GOGC following the live heap; see Keep.
type Pacer struct {
	c      Config
	paced  bool
	settle chan struct{}
	once   sync.Once
}

// Settle switches to c.SettledMin at once. Safe to call more than once,
// from any goroutine, and on a nil Pacer or one the environment overrode.
func (p *Pacer) Settle() {
	if p == nil || !p.paced || p.c.SettledMin == 0 {
		return
	}
	p.once.Do(func() { close(p.settle) })
}

// Keep sets GOGC from the live heap and follows it until ctx is done. It
// does nothing when getenv("GOGC") or getenv("GOMEMLIMIT") is set: the
// operator chose how to collect.
func Keep(ctx context.Context, c Config, getenv func(string) string, log *zap.Logger) *Pacer {
	p := &Pacer{c: c, settle: make(chan struct{})}
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if getenv(v) != "" {
			log.Info("garbage collection paced by the environment", zap.String(v, getenv(v)))
			return p
		}
	}
	p.paced = true
	sample := []metrics.Sample{{Name: liveHeap}}
	set := func(c Config) int {
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		pct := c.Percent(live)
		debug.SetGCPercent(pct)
		return pct
	}
	last := set(c)
	log.Info("garbage collection paced", zap.Int("gogc", last), zap.Float64("headroom", c.Headroom), zap.Uint64("minBytes", c.Min))
	go func() {
		t := time.NewTicker(c.Every)
		defer t.Stop()
		settle := p.settle
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-settle:
				settle, c.Min = nil, c.SettledMin
				log.Info("garbage collection settled", zap.Uint64("minBytes", c.Min))
			}
			if pct := set(c); pct != last {
				log.Debug("garbage collection paced", zap.Int("gogc", pct))
				last = pct
			}
		}
	}()
	return p
}

// Package memlimit keeps a soft memory limit (runtime/debug.SetMemoryLimit)
// a little above the daemon's live heap.
//
// With Go's default GOGC=100 the heap grows to twice what is live before a
// collection, so the daemon's peak RSS is about twice its state: 440 MB
// after a cold start of 10,000 Services x 10 endpoints in the lab, with a
// live heap of 160 MB (issue 15's target is 150 MiB). A fixed limit bounds
// that, but one set below what is live makes the collector run without
// end (the runtime then caps it at half the CPU), so the limit here
// follows the live heap: never under Floor, and Ratio times the live heap
// above it. Nothing runs at idle beyond one cheap runtime/metrics read per
// interval, and the environment's GOMEMLIMIT, when set, wins.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/zap"
)

// Config sets the limit's floor and how far above the live heap it stays.
type Config struct {
	// Floor is the least limit; below it GOGC alone paces collection.
	Floor int64
	// Ratio is the limit over the live heap once that exceeds
	// Floor/Ratio (e.g. 1.25: the heap may grow a quarter over what is
	// live before a collection).
	Ratio float64
	// Every is how often the live heap is read.
	Every time.Duration
}

// Default is ipvsd's setting: 128 MiB, a quarter over the live heap,
// checked every 5 s.
var Default = Config{Floor: 128 << 20, Ratio: 1.25, Every: 5 * time.Second}

// Limit is the limit for a live heap of live bytes.
func (c Config) Limit(live uint64) int64 {
	l := float64(live) * c.Ratio
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(c.Floor, int64(l))
}

const liveHeap = "/gc/heap/live:bytes"

// Keep sets the limit and follows the live heap until ctx is done. It does
// nothing when getenv("GOMEMLIMIT") is set: the operator chose a limit.
func Keep(ctx context.Context, c Config, getenv func(string) string, log *zap.Logger) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		log.Info("soft memory limit from GOMEMLIMIT", zap.String("GOMEMLIMIT", v))
		return
	}
	sample := []metrics.Sample{{Name: liveHeap}}
	set := func() int64 {
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		l := c.Limit(live)
		debug.SetMemoryLimit(l)
		return l
	}
	last := set()
	log.Info("soft memory limit", zap.Int64("bytes", last), zap.Float64("overLiveHeap", c.Ratio))
	go func() {
		t := time.NewTicker(c.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if l := set(); l != last {
				log.Debug("soft memory limit", zap.Int64("bytes", l))
				last = l
			}
		}
	}()
}

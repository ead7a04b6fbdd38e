package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// SyncFunc does one sync. A non-nil error schedules a retry after the
// runner's backoff; a positive next asks for the following sync no later
// than that, with or without an error (a pending drain check, or the
// retry of the one object that failed).
type SyncFunc func(ctx context.Context) (next time.Duration, err error)

// Config holds the intervals. The zero value is completed by Defaults.
type Config struct {
	// MinInterval is the least time between two syncs. Zero means none:
	// a sync starts as soon as it is triggered, and triggers that arrive
	// while one runs still coalesce into a single next sync.
	MinInterval time.Duration
	// RetryInterval is the first wait after a failed sync; it doubles on
	// each further failure up to MaxInterval (default 1 s).
	RetryInterval time.Duration
	// MaxInterval is the longest time without a sync (default 60 s).
	MaxInterval time.Duration
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.RetryInterval == 0 {
		c.RetryInterval = time.Second
	}
	if c.MaxInterval == 0 {
		c.MaxInterval = time.Minute
	}
}

// Validate reports every invalid field.
func (c *Config) Validate() error {
	var errs []error
	if c.MinInterval < 0 || c.RetryInterval <= 0 || c.MaxInterval <= 0 {
		errs = append(errs, fmt.Errorf("intervals must be positive (min %v, retry %v, max %v)", c.MinInterval, c.RetryInterval, c.MaxInterval))
	}
	if c.MinInterval > c.MaxInterval {
		errs = append(errs, fmt.Errorf("min interval %v exceeds max interval %v", c.MinInterval, c.MaxInterval))
	}
	return errors.Join(errs...)
}

// Clock is the time source; RealClock in production.
type Clock interface {
	Now() time.Time
	NewTimer(time.Duration) Timer
}

// Timer is the part of *time.Timer the runner uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// RealClock is the system clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// Runner schedules a SyncFunc.
type Runner struct {
	cfg   Config
	fn    SyncFunc
	clock Clock
	log   *zap.Logger
	kick  chan struct{}
}

// New validates cfg (after Defaults). A nil clock is the system clock; a
// nil logger discards.
func New(cfg Config, fn SyncFunc, clock Clock, log *zap.Logger) (*Runner, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = RealClock{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Runner{cfg: cfg, fn: fn, clock: clock, log: log, kick: make(chan struct{}, 1)}, nil
}

// Trigger asks for a sync soon (within MinInterval of the last). It never
// blocks; triggers arriving before the sync starts are merged.
func (r *Runner) Trigger() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run syncs once at once, then as scheduled, until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	var last time.Time
	wait := time.Duration(0)
	failures := 0
	for {
		if !r.sleep(ctx, wait, last) {
			return nil
		}
		last = r.clock.Now()
		next, err := r.fn(ctx)
		switch {
		case err != nil:
			failures++
			wait = r.backoff(failures)
			if next > 0 && next < wait {
				// The sync knows better: the work that failed has its
				// own retry schedule (one failing object must not hold
				// back another that failed once), or a drain is due.
				wait = next
			}
			r.log.Warn("sync failed; retrying", zap.Error(err), zap.Int("failures", failures), zap.Duration("retryIn", wait))
		default:
			failures = 0
			wait = r.cfg.MaxInterval
			if next > 0 && next < wait {
				wait = next
			}
		}
		wait = max(wait, r.cfg.MinInterval)
	}
}

// sleep waits for wait to pass or a trigger, then for MinInterval since
// last. It returns false when ctx is done.
func (r *Runner) sleep(ctx context.Context, wait time.Duration, last time.Time) bool {
	if wait > 0 {
		t := r.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C():
		case <-r.kick:
			t.Stop()
		}
	}
	if last.IsZero() {
		return ctx.Err() == nil
	}
	if rest := r.cfg.MinInterval - r.clock.Now().Sub(last); rest > 0 {
		t := r.clock.NewTimer(rest)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C():
		}
	}
	// A trigger that came while waiting is served by this sync.
	select {
	case <-r.kick:
	default:
	}
	return ctx.Err() == nil
}

func (r *Runner) backoff(failures int) time.Duration {
	d := r.cfg.RetryInterval
	for i := 1; i < failures && d < r.cfg.MaxInterval; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxInterval)
}

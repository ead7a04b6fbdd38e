package runner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/runner/runnertest"
)

// harness runs a Runner whose sync function reports each call and then
// returns the next scripted outcome.
type harness struct {
	t     *testing.T
	clock *runnertest.Clock
	r     *runner.Runner
	calls chan time.Time
	next  chan outcome
}

type outcome struct {
	next time.Duration
	err  error
}

func start(t *testing.T, cfg runner.Config) *harness {
	h := &harness{t: t, clock: runnertest.NewClock(time.Unix(1000, 0)), calls: make(chan time.Time), next: make(chan outcome)}
	r, err := runner.New(cfg, func(ctx context.Context) (time.Duration, error) {
		select {
		case h.calls <- h.clock.Now():
		case <-ctx.Done():
			// The test is over; the timer its last Advance fired started
			// a sync nobody answers.
			return 0, ctx.Err()
		}
		o := <-h.next
		return o.next, o.err
	}, h.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// expectCall waits for a sync, checks when it ran, and answers it.
func (h *harness) expectCall(at time.Duration, o outcome) {
	h.t.Helper()
	got := <-h.calls
	if want := time.Unix(1000, 0).Add(at); !got.Equal(want) {
		h.t.Errorf("sync at %v, want %v", got.Sub(time.Unix(1000, 0)), at)
	}
	h.next <- o
}

// expectWait checks the runner's next timer and lets it expire.
func (h *harness) expectWait(d time.Duration) {
	h.t.Helper()
	if got := h.clock.WaitTimer(); got != d {
		h.t.Errorf("waiting %v, want %v", got, d)
	}
	h.clock.Advance(d)
}

var cfg = runner.Config{MinInterval: time.Second, RetryInterval: 2 * time.Second, MaxInterval: 30 * time.Second}

func TestPeriodicAndRequeue(t *testing.T) {
	h := start(t, cfg)
	h.expectCall(0, outcome{})
	h.expectWait(30 * time.Second)
	h.expectCall(30*time.Second, outcome{next: 5 * time.Second})
	h.expectWait(5 * time.Second)
	// A requeue below the minimum is raised to it.
	h.expectCall(35*time.Second, outcome{next: time.Millisecond})
	h.expectWait(time.Second)
	h.expectCall(36*time.Second, outcome{})
}

func TestRetryBacksOffToMax(t *testing.T) {
	h := start(t, cfg)
	fail := outcome{err: errors.New("boom")}
	at := time.Duration(0)
	for _, secs := range []int{2, 4, 8, 16, 30, 30} {
		h.expectCall(at, fail)
		wait := time.Duration(secs) * time.Second
		h.expectWait(wait)
		at += wait
	}
	// Success resets the backoff.
	h.expectCall(at, outcome{})
	h.expectWait(30 * time.Second)
	h.expectCall(at+30*time.Second, fail)
	h.expectWait(2 * time.Second)
}

// A failed sync that says when its failed work is next due is retried
// then, sooner than the runner's own backoff, which keeps counting the
// failures for a sync that says nothing.
func TestFailedSyncRetriesWhenItSays(t *testing.T) {
	h := start(t, cfg)
	fail := outcome{err: errors.New("boom")}
	h.expectCall(0, fail)
	h.expectWait(2 * time.Second)
	h.expectCall(2*time.Second, fail)
	h.expectWait(4 * time.Second)
	h.expectCall(6*time.Second, outcome{next: time.Second, err: fail.err})
	h.expectWait(time.Second)
	// A next beyond the backoff does not hold the retry back.
	h.expectCall(7*time.Second, outcome{next: time.Minute, err: fail.err})
	h.expectWait(16 * time.Second)
	h.expectCall(23*time.Second, fail)
	h.expectWait(30 * time.Second)
}

func TestTriggersAreRateLimitedAndMerged(t *testing.T) {
	h := start(t, cfg)
	h.expectCall(0, outcome{})
	h.clock.WaitTimer()
	h.clock.Advance(300 * time.Millisecond)
	h.r.Trigger()
	h.r.Trigger()
	h.r.Trigger()
	// Woken, it waits out the rest of the minimum interval.
	h.expectWait(700 * time.Millisecond)
	h.expectCall(time.Second, outcome{})
	// The merged triggers did not cause a second sync: back to periodic.
	h.expectWait(30 * time.Second)
	h.expectCall(31*time.Second, outcome{})
	// Long after the last sync, a trigger syncs at once.
	h.clock.WaitTimer()
	h.clock.Advance(10 * time.Second)
	h.r.Trigger()
	h.expectCall(41*time.Second, outcome{})
}

// With no minimum interval a trigger syncs at once, however soon after the
// last sync it comes.
func TestNoMinimumSyncsAtOnce(t *testing.T) {
	h := start(t, runner.Config{RetryInterval: 2 * time.Second, MaxInterval: 30 * time.Second})
	h.expectCall(0, outcome{})
	h.clock.WaitTimer()
	h.clock.Advance(time.Millisecond)
	h.r.Trigger()
	h.expectCall(time.Millisecond, outcome{})
	h.expectWait(30 * time.Second)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []runner.Config{
		{MinInterval: -1},
		{MinInterval: time.Minute, MaxInterval: time.Second},
	} {
		if _, err := runner.New(c, nil, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

package runner

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when told. Timers fire on Advance.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers map[*fakeTimer]bool
	seq    int // timers created so far
	seen   int // seq of the last timer waitTimer returned
}

type fakeTimer struct {
	c    *fakeClock
	when time.Time
	ch   chan time.Time
	seq  int
}

func newFakeClock() *fakeClock {
	c := &fakeClock{now: time.Unix(1000, 0), timers: map[*fakeTimer]bool{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1), seq: c.seq}
	c.timers[t] = true
	c.cond.Broadcast()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	active := t.c.timers[t]
	delete(t.c.timers, t)
	t.c.cond.Broadcast()
	return active
}

// waitTimer blocks until the runner waits on exactly one timer, created
// since the last call, and returns how far away it is.
func (c *fakeClock) waitTimer() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.timers) == 1 {
			for t := range c.timers {
				if t.seq > c.seen {
					c.seen = t.seq
					return t.when.Sub(c.now)
				}
			}
		}
		c.cond.Wait()
	}
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.when.After(c.now) {
			delete(c.timers, t)
			t.ch <- c.now
		}
	}
}

// harness runs a Runner whose sync function reports each call and then
// returns the next scripted outcome.
type harness struct {
	t     *testing.T
	clock *fakeClock
	r     *Runner
	calls chan time.Time
	next  chan outcome
}

type outcome struct {
	next time.Duration
	err  error
}

func start(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, clock: newFakeClock(), calls: make(chan time.Time), next: make(chan outcome)}
	r, err := New(cfg, func(ctx context.Context) (time.Duration, error) {
		h.calls <- h.clock.Now()
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
	if got := h.clock.waitTimer(); got != d {
		h.t.Errorf("waiting %v, want %v", got, d)
	}
	h.clock.advance(d)
}

var cfg = Config{MinInterval: time.Second, RetryInterval: 2 * time.Second, MaxInterval: 30 * time.Second}

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

func TestTriggersAreRateLimitedAndMerged(t *testing.T) {
	h := start(t, cfg)
	h.expectCall(0, outcome{})
	h.clock.waitTimer()
	h.clock.advance(300 * time.Millisecond)
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
	h.clock.waitTimer()
	h.clock.advance(10 * time.Second)
	h.r.Trigger()
	h.expectCall(41*time.Second, outcome{})
}

// With no minimum interval a trigger syncs at once, however soon after the
// last sync it comes.
func TestNoMinimumSyncsAtOnce(t *testing.T) {
	h := start(t, Config{RetryInterval: 2 * time.Second, MaxInterval: 30 * time.Second})
	h.expectCall(0, outcome{})
	h.clock.waitTimer()
	h.clock.advance(time.Millisecond)
	h.r.Trigger()
	h.expectCall(time.Millisecond, outcome{})
	h.expectWait(30 * time.Second)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{MinInterval: -1},
		{MinInterval: time.Minute, MaxInterval: time.Second},
	} {
		if _, err := New(c, nil, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

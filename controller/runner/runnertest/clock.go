// Package runnertest is a runner.Clock for tests: time stands still until
// the test moves it, so a test decides exactly when each timer fires.
package runnertest

import (
	"sync"
	"time"

	"github.com/ipvsd/ipvsd/controller/runner"
)

// Clock is a runner.Clock whose time moves only in Advance. It is safe
// for the code under test and the test to use from different goroutines.
type Clock struct {
	mu   sync.Mutex
	cond *sync.Cond
	now  time.Time
	// timers are those neither fired nor stopped, in creation order, so
	// timers due at one instant fire in the order they were made.
	timers []*timer
	seq    int // timers created so far
	seen   int // seq of the last timer WaitTimer returned
}

type timer struct {
	c    *Clock
	when time.Time
	ch   chan time.Time
	seq  int
}

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock {
	c := &Clock{now: start}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) NewTimer(d time.Duration) runner.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1), seq: c.seq}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return t
}

func (t *timer) C() <-chan time.Time { return t.ch }

// Stop reports whether it stopped the timer, as time.Timer's does: false
// once it has fired or been stopped.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.removeLocked(t)
}

func (c *Clock) removeLocked(t *timer) bool {
	for i, p := range c.timers {
		if p == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			c.cond.Broadcast()
			return true
		}
	}
	return false
}

// Advance moves the time on by d and fires every timer that is then due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	pending := c.timers[:0]
	for _, t := range c.timers {
		if t.when.After(c.now) {
			pending = append(pending, t)
			continue
		}
		t.ch <- c.now // buffered: a timer fires once
	}
	clear(c.timers[len(pending):])
	c.timers = pending
	c.cond.Broadcast()
}

// Pending counts the timers neither fired nor stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimer blocks until exactly one timer is pending and it was created
// since the last WaitTimer returned, and returns how far off it is: for
// code that waits on one timer at a time, it says the code is now waiting
// and for how long.
func (c *Clock) WaitTimer() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.timers) == 1 && c.timers[0].seq > c.seen {
			t := c.timers[0]
			c.seen = t.seq
			return t.when.Sub(c.now)
		}
		c.cond.Wait()
	}
}

package probe

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/runner"
)

// Jitter is the fraction of the interval by which each wait is varied, so
// that backends configured together are not all checked in the same
// instant after a reload, and neither are the checks of several directors.
const Jitter = 0.1

// Hooks are told what happens; any may be nil. They are called from the
// checking goroutines and must not block.
type Hooks struct {
	// Checked is called after every check.
	Checked func(id ID, err error, took time.Duration)
	// Changed is called when a backend goes up or down, after Statuses
	// reflects it.
	Changed func(id ID, st Status)
}

// Deps are the monitor's collaborators.
type Deps struct {
	Prober Prober
	// Clock is the time source (runner.RealClock when nil).
	Clock runner.Clock
	// Rand returns a number in [0, 1); rand.Float64 when nil.
	Rand  func() float64
	Log   *zap.Logger
	Hooks Hooks
}

// Monitor runs one checking goroutine per target.
type Monitor struct {
	deps Deps
	log  *zap.Logger

	mu      sync.Mutex
	targets map[ID]*running
	closed  bool
	wg      sync.WaitGroup
}

type running struct {
	spec   Spec
	state  *state
	cancel context.CancelFunc
}

// New returns a monitor with no targets.
func New(deps Deps) *Monitor {
	if deps.Clock == nil {
		deps.Clock = runner.RealClock{}
	}
	if deps.Rand == nil {
		deps.Rand = rand.Float64
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	return &Monitor{deps: deps, log: deps.Log, targets: map[ID]*running{}}
}

// Update makes the checked set exactly targets. A target whose spec is
// unchanged keeps its schedule and state; one whose spec changed restarts
// its schedule but keeps its up/down status (a reload that only tunes the
// interval must not flap the backend); new targets start up; missing ones
// stop.
func (m *Monitor) Update(targets []Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	want := make(map[ID]Target, len(targets))
	for _, t := range targets {
		want[t.ID] = t
	}
	for id, r := range m.targets {
		if t, ok := want[id]; !ok || !t.Spec.equal(r.spec) {
			r.cancel()
			delete(m.targets, id)
			if ok {
				st := newState(t.Spec.Rise, t.Spec.Fall, m.deps.Clock.Now())
				st.up, st.since, st.lastErr = r.state.up, r.state.since, r.state.lastErr
				m.start(t, st)
			}
		}
	}
	for id, t := range want {
		if _, ok := m.targets[id]; !ok {
			m.start(t, newState(t.Spec.Rise, t.Spec.Fall, m.deps.Clock.Now()))
		}
	}
}

func (m *Monitor) start(t Target, st *state) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{spec: t.Spec, state: st, cancel: cancel}
	m.targets[t.ID] = r
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.loop(ctx, t, r)
	}()
}

// Statuses returns every target's status.
func (m *Monitor) Statuses() map[ID]Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[ID]Status, len(m.targets))
	for id, r := range m.targets {
		out[id] = r.state.status()
	}
	return out
}

// Status returns one target's status; ok is false for a target not
// checked.
func (m *Monitor) Status(id ID) (st Status, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.targets[id]
	if !ok {
		return Status{}, false
	}
	return r.state.status(), true
}

// Close stops every schedule and waits for the checks in flight.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.closed = true
	for id, r := range m.targets {
		r.cancel()
		delete(m.targets, id)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// loop checks one backend until ctx is cancelled. The first check comes at
// a random point of the first interval, spreading a reload's new checks.
func (m *Monitor) loop(ctx context.Context, t Target, r *running) {
	wait := time.Duration(m.deps.Rand() * float64(t.Spec.Interval))
	for {
		timer := m.deps.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
		start := m.deps.Clock.Now()
		pctx, cancel := context.WithTimeout(ctx, t.Spec.Timeout)
		err := m.deps.Prober.Probe(pctx, t)
		cancel()
		if ctx.Err() != nil {
			// Stopped mid-check (reload, shutdown): the result belongs
			// to a schedule that no longer exists.
			return
		}
		m.record(t.ID, r, err, m.deps.Clock.Now().Sub(start))
		wait = time.Duration(float64(t.Spec.Interval) * (1 + Jitter*(2*m.deps.Rand()-1)))
	}
}

func (m *Monitor) record(id ID, r *running, err error, took time.Duration) {
	m.mu.Lock()
	if m.targets[id] != r {
		m.mu.Unlock()
		return
	}
	changed := r.state.observe(err, m.deps.Clock.Now())
	st := r.state.status()
	m.mu.Unlock()
	if h := m.deps.Hooks.Checked; h != nil {
		h(id, err, took)
	}
	if !changed {
		return
	}
	if st.Up {
		m.log.Info("backend up", zap.String("service", id.Service), zap.Stringer("backend", id.Backend),
			zap.String("reason", "passed rise checks in a row"), zap.Int("rise", r.state.rise))
	} else {
		m.log.Warn("backend down", zap.String("service", id.Service), zap.Stringer("backend", id.Backend),
			zap.String("reason", st.Reason), zap.Int("fall", r.state.fall))
	}
	if h := m.deps.Hooks.Changed; h != nil {
		h(id, st)
	}
}

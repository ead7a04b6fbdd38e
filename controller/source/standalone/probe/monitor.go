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

	mu sync.Mutex
	// targets by service, so a reload that changes a few services
	// visits only their targets.
	targets map[string]map[ID]*running
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
	return &Monitor{deps: deps, log: deps.Log, targets: map[string]map[ID]*running{}}
}

// Counts say what an update did: the targets it looked at, running and
// wanted (its cost), and those it started and stopped (a restarted one
// counts in both).
type Counts struct {
	Examined, Started, Stopped int
}

// Update makes the checked set exactly targets. A target whose spec is
// unchanged keeps its schedule and state; one whose spec changed restarts
// its schedule but keeps its up/down status (a reload that only tunes the
// interval must not flap the backend); new targets start up; missing ones
// stop.
func (m *Monitor) Update(targets []Target) Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	services := make([]string, 0, len(m.targets))
	for svc := range m.targets {
		services = append(services, svc)
	}
	for _, t := range targets {
		services = append(services, t.ID.Service)
	}
	return m.updateLocked(services, targets)
}

// UpdateServices is Update for the named services alone: their targets
// become those of targets (which must all be theirs), and the targets of
// every other service are not even looked at.
func (m *Monitor) UpdateServices(services []string, targets []Target) Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updateLocked(services, targets)
}

func (m *Monitor) updateLocked(services []string, targets []Target) Counts {
	var n Counts
	if m.closed {
		return n
	}
	want := make(map[ID]Target, len(targets))
	for _, t := range targets {
		want[t.ID] = t
	}
	// Stop first what goes or changes, then start what is new or
	// changed: a target started in the same pass is never visited again.
	type restart struct {
		t  Target
		st *state
	}
	var restarts []restart
	seen := make(map[string]bool, len(services))
	for _, svc := range services {
		if seen[svc] {
			continue
		}
		seen[svc] = true
		for id, r := range m.targets[svc] {
			n.Examined++
			t, ok := want[id]
			if ok && t.Spec.equal(r.spec) {
				continue
			}
			r.cancel()
			m.remove(id)
			n.Stopped++
			if ok {
				st := newState(t.Spec.Rise, t.Spec.Fall, m.deps.Clock.Now())
				st.up, st.since, st.lastErr = r.state.up, r.state.since, r.state.lastErr
				restarts = append(restarts, restart{t, st})
			}
		}
	}
	for _, r := range restarts {
		m.start(r.t, r.st)
	}
	n.Started = len(restarts)
	for id, t := range want {
		n.Examined++
		if m.lookup(id) == nil {
			m.start(t, newState(t.Spec.Rise, t.Spec.Fall, m.deps.Clock.Now()))
			n.Started++
		}
	}
	return n
}

func (m *Monitor) lookup(id ID) *running { return m.targets[id.Service][id] }

func (m *Monitor) remove(id ID) {
	svc := m.targets[id.Service]
	delete(svc, id)
	if len(svc) == 0 {
		delete(m.targets, id.Service)
	}
}

func (m *Monitor) start(t Target, st *state) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{spec: t.Spec, state: st, cancel: cancel}
	svc := m.targets[t.ID.Service]
	if svc == nil {
		svc = map[ID]*running{}
		m.targets[t.ID.Service] = svc
	}
	svc[t.ID] = r
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
	for _, svc := range m.targets {
		for id, r := range svc {
			out[id] = r.state.status()
		}
	}
	return out
}

// Status returns one target's status; ok is false for a target not
// checked.
func (m *Monitor) Status(id ID) (st Status, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(id)
	if r == nil {
		return Status{}, false
	}
	return r.state.status(), true
}

// Close stops every schedule and waits for the checks in flight.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.closed = true
	for svc, targets := range m.targets {
		for _, r := range targets {
			r.cancel()
		}
		delete(m.targets, svc)
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
	if m.lookup(id) != r {
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

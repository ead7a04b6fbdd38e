package reconciler_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	rt "github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/controller/runner/runnertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// loop is the product's sync loop (dataplane.Programmer, its runner and
// the reconciler) on a fake kernel with fault injection and a fake clock:
// time moves only when the test moves it, so every retry is seen at the
// fake instant it happens.
type loop struct {
	t      *testing.T
	clock  *runnertest.Clock
	kernel *ipvstest.Fake
	faults *rt.Faults
	p      *dataplane.Programmer
	src    *stateSource
	start  time.Time
}

// stateSource hands the programmer its whole desired state on every sync
// and reports each sync's outcome, at the fake time it ended.
type stateSource struct {
	clock *runnertest.Clock
	mu    sync.Mutex
	state desired.State
	done  chan synced
}

type synced struct {
	at  time.Time
	err error
}

func (s *stateSource) set(d desired.State) { s.mu.Lock(); s.state = d; s.mu.Unlock() }

func (s *stateSource) Changes(context.Context, bool) (dataplane.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state
	return dataplane.Change{Whole: &d}, nil
}

func (s *stateSource) Programmed(err error) error {
	s.done <- synced{at: s.clock.Now(), err: err}
	return nil
}

func startLoop(t *testing.T, d desired.State, faults ...rt.Fault) *loop {
	t.Helper()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &loop{t: t, clock: runnertest.NewClock(start), kernel: ipvstest.New(), start: start}
	l.faults = rt.NewFaults(l.kernel)
	for _, f := range faults {
		l.faults.Inject(f)
	}
	r, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json")},
		reconciler.Deps{Kernel: l.faults, Addresses: rt.NewAddresses(), Now: l.clock.Now, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.src = &stateSource{clock: l.clock, state: d, done: make(chan synced, 16)}
	if l.p, err = dataplane.New(dataplane.Config{}, dataplane.Deps{IPVS: r, Clock: l.clock, Log: zaptest.NewLogger(t)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- l.p.Run(ctx, l.src) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return l
}

// next waits for the sync in progress (or the one the last Advance or
// Trigger started) to end and returns its outcome, and then how long the
// loop will wait, in fake time, before it syncs again by itself.
func (l *loop) next() (synced, time.Duration) {
	l.t.Helper()
	s := <-l.src.done
	return s, l.clock.WaitTimer()
}

// since is the fake time elapsed since the loop started.
func (l *loop) since(at time.Time) time.Duration { return at.Sub(l.start) }

// TestRetryBackoffIsPerObject runs the sync loop with one virtual server
// whose real server the kernel keeps refusing (ENOMEM) and, later, a new
// one whose first add hits EBUSY once: the first is retried after 1, 2, 4
// and 8 s (fake time), each sync naming it and the errno; the newcomer is
// programmed by the sync its change triggers except for the refused add,
// which is retried one retry interval later, not after the first one's 8 s
// backoff; the first is not retried by the newcomer's syncs; and once the
// kernel relents everything is as desired.
func TestRetryBackoffIsPerObject(t *testing.T) {
	d := webDesired()
	l := startLoop(t, d, rt.Fault{Op: ipvstest.OpAddDestination, Service: dns, Err: unix.ENOMEM})

	var waits []time.Duration
	for range 4 {
		s, wait := l.next()
		requireOpError(t, s.err, dns, unix.ENOMEM)
		waits = append(waits, wait)
		l.clock.Advance(wait)
	}
	// The fifth failure is under way; it waits 16 s.
	s, wait := l.next()
	requireOpError(t, s.err, dns, unix.ENOMEM)
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("retries of the failing virtual server after %v, want %v", waits, want)
	}
	if wait != 16*time.Second {
		t.Errorf("after the fifth failure the loop waits %s, want 16s", wait)
	}
	dnsHits := l.faults.Hits(dns)

	// 3 s into that wait a new virtual server arrives; its add is busy once.
	l.clock.Advance(3 * time.Second)
	extra := desiredtest.VServer(desiredtest.TCP("192.0.2.1:443"), "rr", desiredtest.Dest("10.0.0.5:443", 1))
	l.faults.Inject(rt.Fault{Op: ipvstest.OpAddService, Service: extra.Key, Err: unix.EBUSY, Times: 1})
	d.Services = append(d.Services, extra)
	l.src.set(d)
	changed := l.clock.Now()
	l.p.Trigger()
	s, wait = l.next()
	requireOpError(t, s.err, extra.Key, unix.EBUSY)
	if s.at != changed {
		t.Errorf("the change was synced %s after it was triggered", s.at.Sub(changed))
	}
	if wait > retryInterval {
		t.Errorf("the refused newcomer is retried after %s, more than one retry interval (%s)", wait, retryInterval)
	}
	l.clock.Advance(wait)
	s, wait = l.next()
	if got := programmedAt(t, l.kernel, extra); !got {
		t.Errorf("the newcomer is not programmed %s after its change (sync error %v)", s.at.Sub(changed), s.err)
	}
	if hits := l.faults.Hits(dns); hits != dnsHits {
		t.Errorf("the failing virtual server was retried %d times by the newcomer's syncs, before its own retry was due", hits-dnsHits)
	}
	requireOpError(t, s.err, dns, unix.ENOMEM) // still failing, still reported

	// Its own retry comes when it is due: 16 s after its fifth failure.
	fifth := l.start.Add(15 * time.Second)
	if due := s.at.Add(wait); due != fifth.Add(16*time.Second) {
		t.Errorf("the failing virtual server is next retried at %s, want %s", l.since(due), l.since(fifth.Add(16*time.Second)))
	}
	l.faults.Clear()
	l.clock.Advance(wait)
	s, _ = l.next()
	if s.err != nil {
		t.Fatalf("after the kernel relented: %v", s.err)
	}
	if got, want := renderTable(t, l.kernel), renderAfter(t, func() desired.State { return d }); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

// requireOpError fails t unless err names virtual server k with errno.
func requireOpError(t *testing.T, err error, k ipvs.Key, errno error) {
	t.Helper()
	for _, e := range unjoin(err) {
		var oe *reconciler.OpError
		if errors.As(e, &oe) && oe.Service == k && errors.Is(oe, errno) {
			return
		}
	}
	t.Fatalf("sync error %v does not name %s with %v", err, k, errno)
}

// unjoin flattens joined errors.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if err == nil {
			return nil
		}
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// programmedAt reports whether vs is in the kernel with its real servers.
func programmedAt(t *testing.T, k *ipvstest.Fake, vs desired.VirtualServer) bool {
	t.Helper()
	ds, err := k.GetDestinations(vs.Key)
	return err == nil && len(ds) == len(vs.Destinations)
}

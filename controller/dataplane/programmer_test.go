package dataplane

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
	"go.uber.org/zap/zaptest"
)

// calls records, in order, what the programmer asked of its
// collaborators.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) { c.mu.Lock(); c.log = append(c.log, s); c.mu.Unlock() }

func (c *calls) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.log
	c.log = nil
	return l
}

type fakeIPVS struct{ c *calls }

func (f fakeIPVS) Sync(context.Context, desired.State) (reconciler.Result, error) {
	f.c.add("ipvs.Sync")
	return reconciler.Result{}, nil
}

func (fakeIPVS) RequestFullResync() {}

func (f fakeIPVS) Apply(context.Context, desired.Update) (reconciler.Result, error) {
	f.c.add("ipvs.Apply")
	return reconciler.Result{}, nil
}

type fakeFW struct {
	c   *calls
	err error
}

func (f fakeFW) Apply(context.Context, firewall.Update) (firewall.Result, error) {
	f.c.add("fw.Apply")
	return firewall.Result{}, f.err
}

func (f fakeFW) Repair(context.Context, firewall.Update) (firewall.Result, error) {
	f.c.add("fw.Repair")
	return firewall.Result{}, f.err
}

// fakeSource hands over next and records what it is told.
type fakeSource struct {
	c    *calls
	next Change
	err  error
	told []error
}

func (s *fakeSource) Changes(_ context.Context, full bool) (Change, error) {
	if full {
		s.c.add("src.Changes(full)")
	} else {
		s.c.add("src.Changes")
	}
	return s.next, s.err
}

func (s *fakeSource) Programmed(err error) error {
	s.c.add("src.Programmed")
	s.told = append(s.told, err)
	return nil
}

// stepClock is a clock that only moves when told; the programmer reads
// Now and never waits in these tests.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) NewTimer(time.Duration) runner.Timer {
	panic("not used")
}

var natService = firewall.Update{Parts: map[string]firewall.Part{"ns/nat": {Services: []firewall.VirtualServer{{
	Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: ipvs.TCP, Port: 80}, Kind: firewall.ExternalIP,
}}}}}

// TestProgrammerOrder: the source is asked first, then the firewall, then
// slowFullIPVS takes took (on clock) over each full resync's Sync.
type slowFullIPVS struct {
	fakeIPVS
	clock *stepClock
	took  time.Duration
	asked bool
	// conflict: every sync reports a conflict.
	conflict bool
}

func (f *slowFullIPVS) RequestFullResync() { f.asked = true }

func (f *slowFullIPVS) Sync(ctx context.Context, st desired.State) (reconciler.Result, error) {
	if f.asked {
		f.clock.now, f.asked = f.clock.now.Add(f.took), false
	}
	res, err := f.fakeIPVS.Sync(ctx, st)
	if f.conflict {
		res.Conflicts = []ipvs.Key{{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: 80}}
	}
	return res, err
}

// TestFullResyncInterval: the next full resync is due an interval after
// the last one ended (one that outlasts the interval leaves room for
// partial syncs), or a hundred times its duration if that is longer, so a
// large table's dumps take at most 1 % of the time; the first, the cold
// start, and a conflict (which only a full resync can see go) stretch
// nothing; the kernel settings are still checked every interval.
func TestFullResyncInterval(t *testing.T) {
	const full, partial = "src.Changes(full)", "src.Changes"
	type step struct {
		adv  time.Duration // before the sync
		want []string
	}
	for _, tc := range []struct {
		name     string
		took     time.Duration
		conflict bool
		steps    []step
	}{
		// A periodic full resync is two syncs here: the IPVS compare
		// (with the settings), then at once the source's full pass.
		{"a quick resync keeps the interval", 100 * time.Millisecond, false, []step{
			{30 * time.Second, []string{partial}},
			{29 * time.Second, []string{partial}},
			{time.Second, []string{"settings.Ensure", partial}},
			{0, []string{full}},
		}},
		{"a slow one stretches it", 90 * time.Second, false, []step{
			// The settings count from their last check, at the start of
			// a full resync, the next full one from its end: the cold
			// start ends at +90 s.
			{30 * time.Second, []string{"settings.Ensure", partial}},
			{30 * time.Second, []string{"settings.Ensure", partial}}, // +150 s to +240 s
			{0, []string{"settings.Ensure", full}},                   // 90 s after the last check
			{30 * time.Second, []string{partial}},
			{8900 * time.Second, []string{"settings.Ensure", partial}},
			{30 * time.Second, []string{partial}},
			{60 * time.Second, []string{"settings.Ensure", partial}}, // +9260 s
			{0, []string{"settings.Ensure", full}},
		}},
		{"a conflict keeps the interval", 90 * time.Second, true, []step{
			{30 * time.Second, []string{"settings.Ensure", partial}},
			{30 * time.Second, []string{"settings.Ensure", partial}}, // +150 s to +240 s
			{0, []string{"settings.Ensure", full}},
			{60 * time.Second, []string{"settings.Ensure", partial}},
			{0, []string{"settings.Ensure", full}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &calls{}
			clock := &stepClock{now: time.Unix(1_000_000, 0)}
			p, err := New(Config{FullResyncInterval: time.Minute}, Deps{
				IPVS: &slowFullIPVS{fakeIPVS: fakeIPVS{c: c}, clock: clock, took: tc.took, conflict: tc.conflict}, Settings: &fakeSettings{c: c}, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			src := &fakeSource{c: c, next: Change{Whole: &desired.State{}}}
			if _, err := p.SyncOnce(context.Background(), src); err != nil {
				t.Fatal(err)
			}
			c.take()
			for i, st := range tc.steps {
				clock.now = clock.now.Add(st.adv)
				if _, err := p.SyncOnce(context.Background(), src); err != nil {
					t.Fatal(err)
				}
				if got := c.take(); !slices.Equal(got[:len(st.want)], st.want) {
					t.Errorf("sync %d: %q, want %q first", i+1, got, st.want)
				}
			}
		})
	}
}

// TestChangeGoesBeforeADueFullResync: a change waiting when the full
// resync falls due is programmed by a partial sync first; the full one
// comes next even if another change arrives in between.
func TestChangeGoesBeforeADueFullResync(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: resyncIPVS{fakeIPVS{c: c}}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c}
	const resync = "ipvs.FullResync"
	for i, step := range []struct {
		adv     time.Duration
		trigger bool
		want    string
	}{
		{0, true, resync},            // the first sync is full, triggered or not
		{time.Minute, false, resync}, // due and nothing waiting
		{0, false, "src.Changes(full)"},
		{time.Minute, true, "src.Changes"}, // due, but a change waits: it goes first
		{0, true, resync},                  // and the full one is put off only once
		{0, true, "src.Changes(full)"},
		{0, true, "src.Changes"}, // not due
	} {
		clock.now = clock.now.Add(step.adv)
		if step.trigger {
			p.Trigger()
		}
		if _, err := p.SyncOnce(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		if got := c.take(); got[0] != step.want {
			t.Errorf("sync %d: %q, want %s first", i, got, step.want)
		}
	}
}

// resyncIPVS records RequestFullResync.
type resyncIPVS struct{ fakeIPVS }

func (f resyncIPVS) RequestFullResync() { f.c.add("ipvs.FullResync") }

// TestSettledAfterTheColdStart: Deps.Settled is called once, when the
// first sync (the cold start) ends, and not by the syncs or full resyncs
// after it.
func TestSettledAfterTheColdStart(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	settled := 0
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: fakeIPVS{c: c}, Clock: clock,
		Settled: func() { c.add("settled"); settled++ }})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c}
	if settled != 0 {
		t.Fatalf("settled %d times before any sync", settled)
	}
	for i := range 3 {
		clock.now = clock.now.Add(time.Minute) // each sync after the first a full resync
		if _, err := p.SyncOnce(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		got := c.take()
		if (i == 0) != slices.Contains(got, "settled") || (i == 0 && got[len(got)-1] != "settled") {
			t.Errorf("sync %d: %q; want \"settled\" last after the first sync only", i, got)
		}
	}
	if settled != 1 {
		t.Errorf("settled %d times, want once", settled)
	}
}

// IPVS (whole or incremental, as the source says), then the source is
// told; the firewall is compared with the kernel when it was just opened
// and on every full resync, and merely synced in between.
func TestProgrammerOrder(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	opened := 0
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{
		IPVS: fakeIPVS{c: c},
		OpenFirewall: func(context.Context) (Firewall, error) {
			opened++
			return fakeFW{c: c}, nil
		},
		Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c}
	step := func(adv time.Duration, want ...string) {
		t.Helper()
		clock.now = clock.now.Add(adv)
		if _, err := p.SyncOnce(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		if got := c.take(); !slices.Equal(got, want) {
			t.Errorf("calls %q, want %q", got, want)
		}
	}
	step(0, "src.Changes(full)", "fw.Repair", "ipvs.Apply", "src.Programmed")
	step(time.Second, "src.Changes", "fw.Apply", "ipvs.Apply", "src.Programmed")
	src.next.Whole = &desired.State{}
	step(time.Second, "src.Changes", "fw.Apply", "ipvs.Sync", "src.Programmed")
	src.next.Resynced = true
	step(time.Second, "src.Changes", "fw.Repair", "ipvs.Sync", "src.Programmed")
	src.next.Resynced = false
	step(time.Minute, "src.Changes", "fw.Apply", "ipvs.Sync", "src.Programmed") // a full resync's IPVS part
	step(0, "src.Changes(full)", "fw.Repair", "ipvs.Sync", "src.Programmed")    // and the rest, at once
	if opened != 1 {
		t.Errorf("firewall opened %d times, want once", opened)
	}
}

// TestProgrammerFirewallOnDemand: with FirewallOnDemand the firewall is
// not opened while no change holds a firewall service; the first that
// does opens it and compares it with the kernel; a failed check is
// retried as a check.
func TestProgrammerFirewallOnDemand(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	fw := &fakeFW{c: c}
	p, err := New(Config{FirewallOnDemand: true}, Deps{
		IPVS:         fakeIPVS{c: c},
		OpenFirewall: func(context.Context) (Firewall, error) { return fw, nil },
		Clock:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c}
	sync := func() error {
		clock.now = clock.now.Add(time.Second)
		_, err := p.SyncOnce(context.Background(), src)
		return err
	}
	if err := sync(); err != nil {
		t.Fatal(err)
	}
	if got := c.take(); slices.Contains(got, "fw.Repair") || slices.Contains(got, "fw.Apply") {
		t.Fatalf("firewall used with no NAT service: %q", got)
	}
	src.next.Firewall = natService
	fw.err = errors.New("iptables-restore: exit status 4")
	if err := sync(); !errors.Is(err, fw.err) {
		t.Fatalf("sync error %v, want the firewall's", err)
	}
	if got := c.take(); !slices.Contains(got, "fw.Repair") || !slices.Contains(got, "ipvs.Apply") {
		t.Fatalf("calls %q: want a check, and IPVS programmed despite the firewall failing", got)
	}
	fw.err = nil
	if err := sync(); err != nil {
		t.Fatal(err)
	}
	if got := c.take(); !slices.Contains(got, "fw.Repair") {
		t.Fatalf("calls %q: the failed check is not retried as a check", got)
	}
}

// TestProgrammerSourceError: a source error fails the sync (so it is
// retried), but what the source returned with it is programmed, and the
// source is told the joined error.
func TestProgrammerSourceError(t *testing.T) {
	c := &calls{}
	p, err := New(Config{}, Deps{IPVS: fakeIPVS{c: c}})
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("service ns/web: cache not synced")
	src := &fakeSource{c: c, err: bad}
	if _, err := p.SyncOnce(context.Background(), src); !errors.Is(err, bad) {
		t.Fatalf("sync error %v, want the source's", err)
	}
	if got := c.take(); !slices.Equal(got, []string{"src.Changes(full)", "ipvs.Apply", "src.Programmed"}) {
		t.Errorf("calls %q", got)
	}
	if len(src.told) != 1 || !errors.Is(src.told[0], bad) {
		t.Errorf("source told %v, want its own error", src.told)
	}
}

// fakeSettings records Ensure calls and fails with err.
type fakeSettings struct {
	c   *calls
	err error
}

func (f *fakeSettings) Ensure() error {
	f.c.add("settings.Ensure")
	return f.err
}

// TestProgrammerKernelSettings: the kernel settings are applied first on
// every full resync and only then; their failure is logged, not a sync
// error (it must not fail /healthz).
func TestProgrammerKernelSettings(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	settings := &fakeSettings{c: c, err: errors.New("nf_conntrack_max: read-only")}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: fakeIPVS{c: c}, Settings: settings, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: c}
	for _, st := range []struct {
		adv  time.Duration
		want []string
	}{
		{0, []string{"settings.Ensure", "src.Changes(full)", "ipvs.Apply", "src.Programmed"}},
		{time.Second, []string{"src.Changes", "ipvs.Apply", "src.Programmed"}},
		// A periodic full resync: the source's full pass is its second sync.
		{time.Minute, []string{"settings.Ensure", "src.Changes", "ipvs.Apply", "src.Programmed"}},
		{0, []string{"src.Changes(full)", "ipvs.Apply", "src.Programmed"}},
	} {
		clock.now = clock.now.Add(st.adv)
		if _, err := p.SyncOnce(context.Background(), src); err != nil {
			t.Errorf("a settings failure failed the sync: %v", err)
		}
		if got := c.take(); !slices.Equal(got, st.want) {
			t.Errorf("calls %q, want %q", got, st.want)
		}
	}
}

// conflictIPVS reports one conflict on every sync.
type conflictIPVS struct{ k ipvs.Key }

func (conflictIPVS) RequestFullResync() {}

func (f conflictIPVS) Sync(context.Context, desired.State) (reconciler.Result, error) {
	return reconciler.Result{Conflicts: []ipvs.Key{f.k}}, nil
}

func (f conflictIPVS) Apply(context.Context, desired.Update) (reconciler.Result, error) {
	return reconciler.Result{Conflicts: []ipvs.Key{f.k}}, nil
}

// conflictSource is a source that wants to hear about conflicts.
type conflictSource struct {
	fakeSource
	heard [][]ipvs.Key
}

func (s *conflictSource) Conflicts(ks []ipvs.Key) { s.heard = append(s.heard, ks) }

// TestProgrammerReportsConflicts: the source hears the conflicts of every
// sync, the gauge counts them, and the sync is no failure for them.
func TestProgrammerReportsConflicts(t *testing.T) {
	k := ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: 80}
	m := NewMetrics(StatsConfig{}, nil)
	p, err := New(Config{}, Deps{IPVS: conflictIPVS{k}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	src := &conflictSource{fakeSource: fakeSource{c: &calls{}}}
	if _, err := p.SyncOnce(context.Background(), src); err != nil {
		t.Fatalf("a conflict failed the sync: %v", err)
	}
	if len(src.heard) != 1 || !slices.Equal(src.heard[0], []ipvs.Key{k}) {
		t.Errorf("source heard %v", src.heard)
	}
	if got := dataplanetest.Scrape(t, m.MetricsHandler(), "ipvsd_conflicts"); got["ipvsd_conflicts"] != 1 {
		t.Errorf("gauge %v", got)
	}
}

// TestFullResyncDumpsTheKernel: the programmer's full resync makes the
// reconciler dump the kernel, whatever the reconciler's own (backstop)
// schedule says; a partial sync does not.
func TestFullResyncDumpsTheKernel(t *testing.T) {
	kernel := ipvstest.New()
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json"), FullResyncInterval: 24 * time.Hour},
		reconciler.Deps{Kernel: kernel, Addresses: reconcilertest.NewAddresses(), Now: clock.Now, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{IPVS: rec, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{c: &calls{}}
	for i, step := range []struct {
		advance time.Duration
		dumps   int
	}{{0, 1}, {time.Second, 1}, {time.Minute, 2}} {
		clock.now = clock.now.Add(step.advance)
		if _, err := p.SyncOnce(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		if got := kernel.Calls(ipvstest.OpDump); got != step.dumps {
			t.Errorf("after sync %d: %d dumps, want %d", i, got, step.dumps)
		}
	}
}

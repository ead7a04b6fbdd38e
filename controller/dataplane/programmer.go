package dataplane

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/failover"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Change is what a source hands over for one sync.
type Change struct {
	// Whole, when non-nil, replaces the whole IPVS desired state (a
	// source that translates all its input every time). Otherwise Update
	// changes part of it, and costs only what it names.
	Whole  *desired.State
	Update desired.Update
	// Firewall is the firewall's options and the parts of the owners
	// whose firewall state changed (all of them when Whole): a change
	// that touches no part costs the firewall nothing, one that touches
	// a service costs that service's set lines.
	Firewall firewall.Update
	// Resynced says the source translated all of its input afresh (after
	// a change of the node, say): the firewall is then compared with the
	// kernel, as on a full resync.
	Resynced bool
	// Failover is the sync daemons and sloppy modes the source wants; nil
	// leaves them as they are (Kubernetes mode has none).
	Failover *failover.Desired
}

// Source translates its input into desired state.
type Source interface {
	// Changes returns what changed since the last call. Full says the
	// kernel is compared with the desired state in this sync: a source
	// may hand all of its state then (and must if it could miss a change
	// otherwise), and reread what no event tells it of (the host's
	// addresses). An error is reported with the sync and makes it
	// retry, but the change returned with it is programmed all the same:
	// one bad object must not hold back the rest.
	Changes(ctx context.Context, full bool) (Change, error)
	// Programmed is told how programming the change went (err joins the
	// firewall's and the reconciler's errors). What it returns is joined
	// to the sync's error.
	Programmed(err error) error
}

// ConflictReporter is a Source that tells its users about desired virtual
// servers someone else holds in the kernel (an Event on the Kubernetes
// Service). The programmer hands it the current list after every sync.
type ConflictReporter interface {
	Conflicts([]ipvs.Key)
}

// IPVS is the part of reconciler.Reconciler the programmer uses.
type IPVS interface {
	Sync(context.Context, desired.State) (reconciler.Result, error)
	Apply(context.Context, desired.Update) (reconciler.Result, error)
	// RequestFullResync makes the next Sync or Apply dump the kernel and
	// repair drift: the programmer asks at every full resync.
	RequestFullResync()
}

// Prefetcher is an IPVS that can take a full resync's dump ahead, beside
// partial syncs (reconciler.Reconciler with a Dumper): PrefetchDump starts
// one if none is under way and reports whether it is done, calling ready
// when one it started is.
type Prefetcher interface {
	PrefetchDump(ready func()) bool
}

// Firewall is the part of firewall.Firewall the programmer uses.
type Firewall interface {
	Apply(context.Context, firewall.Update) (firewall.Result, error)
	Repair(context.Context, firewall.Update) (firewall.Result, error)
}

// DefaultFullResyncInterval is Config.FullResyncInterval when unset.
const DefaultFullResyncInterval = time.Minute

// Config paces the syncs.
type Config struct {
	// MinSyncInterval is the least time between two syncs; 0 means a sync
	// starts as soon as it is triggered (bursts still coalesce while one
	// runs).
	MinSyncInterval time.Duration
	// FullResyncInterval is how often the kernel (IPVS and the firewall)
	// is compared with the desired state and repaired (default 60 s),
	// stretched so that full resyncs take at most 1 % of the time. It is
	// also the longest time without a sync, and between two checks of the
	// kernel settings.
	FullResyncInterval time.Duration
	// FirewallOnDemand opens the firewall only once a change holds a
	// firewall service, so a host with only DR and TUN services needs no
	// iptables at all.
	FirewallOnDemand bool
}

// Deps are the programmer's collaborators; IPVS is required.
type Deps struct {
	IPVS IPVS
	// OpenFirewall opens the firewall at the first sync that needs it;
	// nil leaves the firewall alone (--iptables-mode none).
	OpenFirewall func(context.Context) (Firewall, error)
	// Settings are node-wide kernel settings, applied at every full
	// resync (kernelsettings.Tuner); nil keeps none. A failure is logged,
	// once per distinct error, and is no sync error: a proxy whose
	// conntrack timeouts cannot be set still serves, and must not be
	// reported unhealthy or restarted for it.
	Settings interface{ Ensure() error }
	// Failover keeps Change.Failover (failover.Keeper); nil keeps none.
	// Like Settings, a failure is logged and is no sync error: a director
	// whose sync daemon cannot start (a missing interface) still serves;
	// the sync asks for another soon (ensureFailover) to try again.
	Failover interface {
		Ensure(failover.Desired, bool) (failover.Result, error)
	}
	// Metrics records every sync; nil keeps none.
	Metrics *Metrics
	// Settled, if set, is called once the first sync (the cold start,
	// which is a full one) has ended: the daemons pace the collector
	// tighter from then on (gcpace.Pacer.Settle).
	Settled func()
	Clock   runner.Clock
	Log     *zap.Logger
}

// Programmer is the dataplane's one sync loop.
type Programmer struct {
	cfg  Config
	deps Deps
	log  *zap.Logger
	run  *runner.Runner
	src  Source

	// Used by sync only, which the runner never runs concurrently.
	fw Firewall
	// fwCheckDue: the next firewall sync compares with the kernel (it
	// was just opened, a full resync asked for it, or that failed).
	fwCheckDue bool
	// fwQueued is the firewall state the changes built while the
	// firewall was not open (on demand, or opening failed), handed whole
	// to it once open.
	fwQueued firewall.State
	// repairAside: the periodic firewall repair runs beside the syncs
	// (in Run; see fwrepair.go). repairing is the one under way, and
	// fwPending the firewall updates the syncs kept meanwhile.
	repairAside bool
	repairing   *fwRepair
	fwPending   firewall.Update
	// lastFull is when the last full resync ended, and lastFullTook how
	// long it took.
	lastFull     time.Time
	lastFullTook time.Duration
	// prefetchStart is when the due full resync's dump began, taken ahead
	// (zero: none under way).
	prefetchStart time.Time
	// sweepStart is when the full resync whose sweep is under way began
	// (zero: none is); sweepFirst: it is the cold start.
	sweepStart time.Time
	sweepFirst bool
	// repairDue: the periodic full resync under way still has its
	// source's and firewall's part to do, in a sync of its own once the
	// sweep has ended (repairNext).
	repairDue, repairNext bool
	// conflicted: the last sync found desired virtual servers someone
	// else holds.
	conflicted bool
	// lastSettings is when the kernel settings were last ensured.
	lastSettings time.Time
	// settingsErr and failoverErr are the last such errors logged.
	settingsErr, failoverErr string
	// failoverRetry is the wait before the next try after a failover
	// failure, doubled at each one in a row; zero after a success.
	failoverRetry time.Duration
	// fullPostponed: the last sync was partial although a full resync was
	// due, to program a change first; the next one is the full one.
	fullPostponed bool

	// triggered: a source asked for a sync since the last one began.
	triggered atomic.Bool
}

// New validates the configuration and builds the loop without starting it.
func New(cfg Config, deps Deps) (*Programmer, error) {
	if deps.IPVS == nil {
		return nil, errors.New("dataplane: no IPVS reconciler")
	}
	if cfg.FullResyncInterval == 0 {
		cfg.FullResyncInterval = DefaultFullResyncInterval
	}
	if deps.Clock == nil {
		deps.Clock = runner.RealClock{}
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	p := &Programmer{cfg: cfg, deps: deps, log: deps.Log}
	r, err := runner.New(runner.Config{MinInterval: cfg.MinSyncInterval, MaxInterval: cfg.FullResyncInterval}, p.sync, deps.Clock, deps.Log)
	if err != nil {
		return nil, fmt.Errorf("dataplane: %w", err)
	}
	p.run = r
	return p, nil
}

// Trigger asks for a sync soon. Sources call it when their input changes;
// it never blocks and may be called before Run.
func (p *Programmer) Trigger() {
	p.triggered.Store(true)
	if p.deps.Metrics != nil {
		p.deps.Metrics.ObserveQueued()
	}
	p.run.Trigger()
}

// Run syncs from src until ctx is done. It leaves the kernel as it is
// when it returns: virtual servers, VIPs and firewall rules stay, so a
// restart drops no connection.
func (p *Programmer) Run(ctx context.Context, src Source) error {
	p.src = src
	p.repairAside = true
	return p.run.Run(ctx)
}

// SyncOnce runs one sync from src now, outside the loop: for tests and
// for one-shot tools. It must not run concurrently with Run.
func (p *Programmer) SyncOnce(ctx context.Context, src Source) (time.Duration, error) {
	p.src = src
	return p.sync(ctx)
}

// sync is the runner's SyncFunc.
func (p *Programmer) sync(ctx context.Context) (time.Duration, error) {
	start := p.deps.Clock.Now()
	// The interval counts from the end of the last full resync: one that
	// outlasts it (100,000 destinations under emulation) must leave room
	// for partial syncs, or every change would wait for the next one.
	full := p.fullDue(start)
	if full {
		// A full resync whose dump was taken ahead lasted from the dump's
		// start: its share of the time counts the dump.
		began := start
		if !p.prefetchStart.IsZero() {
			began, p.prefetchStart = p.prefetchStart, time.Time{}
		}
		p.sweepStart, p.sweepFirst = began, p.lastFull.IsZero()
		p.repairDue = !p.sweepFirst
		p.deps.IPVS.RequestFullResync()
	}
	repair := full && p.sweepFirst || p.repairNext
	periodic := p.repairNext
	if p.repairNext {
		p.repairDue, p.repairNext = false, false
	}
	p.ensureSettings(start, full)
	ch, srcErr := p.src.Changes(ctx, repair)

	var errs []error
	if srcErr != nil {
		errs = append(errs, srcErr)
	}
	if err := p.syncFirewall(ctx, ch, repair || ch.Resynced, periodic && !ch.Resynced); err != nil {
		errs = append(errs, fmt.Errorf("firewall: %w", err))
	}
	var res reconciler.Result
	var err error
	if ch.Whole != nil {
		res, err = p.deps.IPVS.Sync(ctx, *ch.Whole)
	} else {
		res, err = p.deps.IPVS.Apply(ctx, ch.Update)
	}
	if err != nil {
		errs = append(errs, err)
	}
	requeue := p.ensureFailover(ch.Failover, full, res.RequeueAfter)
	if cr, ok := p.src.(ConflictReporter); ok {
		cr.Conflicts(res.Conflicts)
	}
	p.conflicted = len(res.Conflicts) > 0
	if p.deps.Metrics != nil {
		p.deps.Metrics.SetConflicts(len(res.Conflicts))
	}
	if perr := p.src.Programmed(errors.Join(errs...)); perr != nil {
		errs = append(errs, perr)
	}
	err = errors.Join(errs...)
	took := p.deps.Clock.Now().Sub(start)
	if p.deps.Metrics != nil {
		p.deps.Metrics.ObserveSync(took, err)
	}
	// A sweep's slices are logged too: what a change waited for is then
	// in the debug log, with each sync's length.
	if ch.Whole != nil || len(ch.Update.Set)+len(ch.Update.Delete) > 0 || err != nil || res.Full {
		p.log.Debug("synced", zap.Bool("full", full), zap.Stringer("result", &res),
			zap.Duration("took", took), zap.Error(err))
	}
	return p.sweepGoesOn(res, requeue), err
}

// fullResyncShare bounds the share of time full resyncs take: the next
// one is due no sooner than this many times the last one's duration after
// it ended. With a dump of 100,000 real servers taking seconds, syncPeriod
// alone (kube-proxy's 30 s) kept an idle daemon busy a tenth of the time;
// a small table keeps syncPeriod.
const fullResyncShare = 100

// fullInterval is the time from the end of a full resync to the next.
// A conflict keeps FullResyncInterval: only a full resync sees that the
// foreign virtual server has gone, and the Service waits for it.
func (p *Programmer) fullInterval() time.Duration {
	if p.conflicted {
		return p.cfg.FullResyncInterval
	}
	return max(p.cfg.FullResyncInterval, fullResyncShare*p.lastFullTook)
}

// sweepGoesOn follows a full resync in its steps, each a sync of its own
// that comes at once, with the changes that arrived meanwhile: the
// reconciler's sweep, one slice of the IPVS table per sync, then (but
// for the cold start, which does all in one) the source's full pass and
// the firewall's compare with the kernel. In one sync they held a change
// that came during a periodic resync at 10,000 Services for 2.9 s under
// emulation. The full resync ends, for its interval, with the last step.
func (p *Programmer) sweepGoesOn(res reconciler.Result, requeue time.Duration) time.Duration {
	if p.sweepStart.IsZero() {
		return requeue
	}
	if res.SweepLeft > 0 {
		return time.Nanosecond
	}
	if p.repairDue {
		p.repairNext = true
		return time.Nanosecond
	}
	if p.repairing != nil {
		// The firewall's compare goes on beside the syncs: the resync
		// ends with it, and its length, the ipset and iptables-save runs
		// included, counts in the 1 % (at 100 Services with a full resync
		// every 5 s they were most of an idle daemon's CPU). The repair
		// asks for a sync when it is done.
		return requeue
	}
	p.fullDone(p.sweepStart, p.sweepFirst)
	p.sweepStart = time.Time{}
	return requeue
}

// fullDone records the end of a full resync that began at start. The
// first one, the cold start, programs everything and stretches nothing:
// what a repair costs is measured by the next.
func (p *Programmer) fullDone(start time.Time, first bool) {
	end := p.deps.Clock.Now()
	p.lastFull, p.lastFullTook = end, end.Sub(start)
	if p.deps.Metrics != nil {
		p.deps.Metrics.ObserveFullResync(p.lastFullTook)
	}
	if first {
		p.lastFullTook = 0
		if p.deps.Settled != nil {
			p.deps.Settled()
		}
	}
}

// fullDue says whether the sync starting at now is a full resync: the
// first is, and one fullInterval after the last ended. A change waiting
// when it falls due goes first, in a partial sync of its own, because the
// full one (a dump and a compare of the whole table) can take minutes at
// 100,000 real servers; the full one follows at once, and is put off only
// once in a row so a stream of changes cannot starve it.
func (p *Programmer) fullDue(now time.Time) bool {
	changed := p.triggered.Swap(false)
	if !p.sweepStart.IsZero() {
		return false // the last one's sweep goes on
	}
	if !p.lastFull.IsZero() && now.Sub(p.lastFull) < p.fullInterval() {
		return false
	}
	// Due: the dump is taken ahead while changes go on, and the full
	// resync runs once it is done (ready triggers a sync).
	if pf, ok := p.deps.IPVS.(Prefetcher); ok && !p.lastFull.IsZero() && !pf.PrefetchDump(p.run.Trigger) {
		if p.prefetchStart.IsZero() {
			p.prefetchStart = now
		}
		return false
	}
	if p.lastFull.IsZero() || !changed || p.fullPostponed {
		p.fullPostponed = false
		return true
	}
	p.fullPostponed = true
	p.run.Trigger()
	return false
}

// ensureSettings applies the kernel settings at a full resync and at
// least every FullResyncInterval (they are a few files and one netlink
// read: a stretched full-resync interval must not delay their repair),
// logging a failure when it differs from the last one logged.
func (p *Programmer) ensureSettings(now time.Time, full bool) {
	if p.deps.Settings == nil {
		return
	}
	if !full && now.Sub(p.lastSettings) < p.cfg.FullResyncInterval {
		return
	}
	p.lastSettings = now
	err := p.deps.Settings.Ensure()
	switch {
	case err == nil:
		p.settingsErr = ""
	case err.Error() != p.settingsErr:
		p.settingsErr = err.Error()
		p.log.Warn("kernel settings", zap.Error(err))
	}
}

// ensureFailover applies the source's sync daemons and sloppy modes after
// the virtual servers (a backup's copied connections find their service),
// logging a failure when it differs from the last one logged. It returns
// when the next sync is due: next, or sooner after a failure, so that one
// that passes (the kernel busy past the netlink timeout, an interface
// that appears) does not wait for the next full resync; the wait doubles
// from 1 s up to 30 s while it keeps failing.
func (p *Programmer) ensureFailover(want *failover.Desired, full bool, next time.Duration) time.Duration {
	if p.deps.Failover == nil || want == nil {
		return next
	}
	_, err := p.deps.Failover.Ensure(*want, full)
	if err == nil {
		p.failoverErr, p.failoverRetry = "", 0
		return next
	}
	if err.Error() != p.failoverErr {
		p.failoverErr = err.Error()
		p.log.Warn("sync daemons and sloppy modes", zap.Error(err))
	}
	p.failoverRetry = min(max(2*p.failoverRetry, failoverFirstRetry), failoverMaxRetry)
	if next <= 0 || next > p.failoverRetry {
		next = p.failoverRetry
	}
	return next
}

const (
	failoverFirstRetry = time.Second
	failoverMaxRetry   = 30 * time.Second
)

// syncFirewall programs ch's firewall update, opening the firewall when
// it is first needed; check compares it with the kernel, beside the syncs
// when periodic (see fwrepair.go). A firewall once opened stays programmed: an empty
// state removes our set entries but keeps the constant rules. An update
// that names no owner costs nothing once the firewall is in sync; the
// firewall keeps the state by owner, so no update is lost to a failure.
func (p *Programmer) syncFirewall(ctx context.Context, ch Change, check, periodic bool) error {
	u := ch.Firewall
	if p.fw == nil {
		if p.deps.OpenFirewall == nil {
			return nil
		}
		p.fwQueued.Apply(u)
		if p.cfg.FirewallOnDemand && !p.fwQueued.HasServices() {
			return nil
		}
		fw, err := p.deps.OpenFirewall(ctx)
		if err != nil {
			return fmt.Errorf("opening: %w", err)
		}
		p.fw, p.fwCheckDue = fw, true
		u, p.fwQueued = p.fwQueued.Whole(), firewall.State{}
	}
	u, ok, repairErr := p.afterRepair(u)
	if !ok {
		return nil
	}
	if check && periodic && p.repairAside && !p.fwCheckDue {
		p.startRepair(ctx, u)
		return repairErr
	}
	p.fwCheckDue = p.fwCheckDue || check
	var err error
	if p.fwCheckDue {
		// Compared with the kernel, not with what was last applied: this
		// repairs entries or sets removed by hand, as the reconciler's
		// full resync does for IPVS.
		_, err = p.fw.Repair(ctx, u)
	} else {
		_, err = p.fw.Apply(ctx, u)
	}
	if err == nil {
		p.fwCheckDue = false
	}
	return errors.Join(repairErr, err)
}

package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Config tunes the reconciler. The zero value is completed by Defaults.
type Config struct {
	// RecordPath is the ownership record (DefaultRecordPath).
	RecordPath string
	// FullResyncInterval is how often Sync dumps the kernel and repairs
	// drift, even when nothing changed (default 60 s).
	FullResyncInterval time.Duration
	// PublishInterval is the least time between two writes of the
	// published desired state (desired.json, read by `ipvsd list --drift`).
	// The file holds the whole state, so writing it on every change would
	// make a one-service change cost O(services); changes within the
	// interval are coalesced into one write (default 1 s).
	PublishInterval time.Duration
	// DrainCheckInterval is how often the connection counts of draining
	// real servers are read (default 5 s).
	DrainCheckInterval time.Duration
	// RetryInterval is how long a virtual server whose apply failed waits
	// before its first retry; each further failure doubles the wait, up
	// to MaxRetryInterval (defaults 1 s and 60 s). Each virtual server
	// has its own schedule; a full resync retries them all.
	RetryInterval, MaxRetryInterval time.Duration
	// ExcludeCIDRs are addresses whose virtual servers are never cleaned
	// up (kube-proxy's ipvs.excludeCIDRs): one ipvsd created there that is
	// no longer desired is left as it is and stops being recorded, so that
	// another program can take it over. Desired ones are still programmed.
	ExcludeCIDRs []netip.Prefix
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.RecordPath == "" {
		c.RecordPath = runstate.DefaultRecordPath
	}
	if c.FullResyncInterval == 0 {
		c.FullResyncInterval = 60 * time.Second
	}
	if c.PublishInterval == 0 {
		c.PublishInterval = time.Second
	}
	if c.DrainCheckInterval == 0 {
		c.DrainCheckInterval = 5 * time.Second
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = time.Second
	}
	if c.MaxRetryInterval == 0 {
		c.MaxRetryInterval = time.Minute
	}
}

// Validate reports every invalid field.
func (c *Config) Validate() error {
	var errs []error
	if c.FullResyncInterval < 0 {
		errs = append(errs, fmt.Errorf("full resync interval %v is negative", c.FullResyncInterval))
	}
	if c.DrainCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("drain check interval %v is negative", c.DrainCheckInterval))
	}
	if c.RetryInterval < 0 || c.MaxRetryInterval < c.RetryInterval {
		errs = append(errs, fmt.Errorf("retry intervals %v up to %v: want 0 <= first <= max", c.RetryInterval, c.MaxRetryInterval))
	}
	return errors.Join(errs...)
}

// Deps are the reconciler's collaborators.
type Deps struct {
	Kernel ipvs.Kernel
	// Addresses binds VIPs; nil means none are managed (Desired.Addresses
	// must then be empty).
	Addresses AddressBinder
	// Conntrack removes UDP conntrack entries of deleted real servers; nil
	// skips the cleanup.
	Conntrack ConntrackCleaner
	// Dumper, when set, takes a full resync's dump ahead, beside partial
	// syncs (PrefetchDump); nil dumps on Kernel when the resync runs.
	Dumper Dumper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *zap.Logger
}

// Reconciler moves the kernel to a desired state. It holds the whole
// desired state and what it last applied, so a sync after a small change
// looks at and writes only that change and does not read the kernel; every
// FullResyncInterval it dumps the kernel once and repairs drift. Sync
// replaces the whole desired state, Apply changes part of it; calls are
// serialised.
type Reconciler struct {
	mu   sync.Mutex
	deps Deps
	log  *zap.Logger

	want      wantedState    // the desired state, and what of it to look at
	ownership ownership      // what ipvsd created, and its file
	publisher publisher      // the copy of the desired state for inspection
	resync    resyncSchedule // when to stop trusting the model

	// svcs models our virtual servers as the kernel holds them;
	// conflicts are the desired ones that someone else holds.
	svcs      map[ipvs.Key]*svcState
	conflicts map[ipvs.Key]bool
	logged    map[ipvs.Key]bool // conflicts already logged
	drains    drainer           // our real servers on their way out
	retries   retryBackoff      // when each failed virtual server is retried
	adoptable Adoptable         // another program's, ipvsd may take over
	// justAdopted are the services adopted by the sync running.
	justAdopted []ipvs.Key
	// pf is the dump being taken ahead of the next full resync, if any.
	pf *prefetch
	// sweep is the full resync under way, if any; programmed is set once
	// the first has ended (from then on sweeps are sliced).
	sweep      *sweep
	programmed bool
	// batchWrites and batchOwner are runAhead's buffers.
	batchWrites []ipvs.Write
	batchOwner  []int
	// ahead are the outcomes of the writes of the plan being applied
	// that went ahead in a batch (batch.go).
	ahead []aheadWrite
	// planBuf is the last sync's plans, cleared, for the next: a sweep's
	// hundred syncs at 10,000 Services each made a new list (keepPlans).
	planBuf []plan
}

// New validates cfg (after Defaults) and loads the ownership record. The
// first Sync dumps the kernel and adopts the virtual servers the record
// names.
func New(cfg Config, deps Deps) (*Reconciler, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Kernel == nil {
		return nil, errors.New("controller: no kernel")
	}
	return newReconciler(cfg, deps)
}

func newReconciler(cfg Config, deps Deps) (*Reconciler, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = zap.NewNop()
	}
	r := &Reconciler{
		deps:      deps,
		log:       log,
		want:      wantedState{byKey: map[ipvs.Key]*wanted{}, addrsDirty: true},
		ownership: ownership{store: runstate.OwnershipStore{Path: cfg.RecordPath}, exclude: cfg.ExcludeCIDRs},
		publisher: publisher{
			store:    runstate.DesiredStore{Path: runstate.DesiredPath(cfg.RecordPath)},
			interval: cfg.PublishInterval,
		},
		resync:    resyncSchedule{interval: cfg.FullResyncInterval, needed: true},
		svcs:      map[ipvs.Key]*svcState{},
		conflicts: map[ipvs.Key]bool{},
		drains:    drainer{checkInterval: cfg.DrainCheckInterval},
		retries:   retryBackoff{interval: cfg.RetryInterval, max: cfg.MaxRetryInterval},
	}
	if r.publisher.store.Path != "" {
		r.want.unpublished = map[ipvs.Key]bool{}
	}
	if err := r.ownership.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// RequestFullResync makes the next Sync dump the kernel and repair drift.
func (r *Reconciler) RequestFullResync() {
	r.mu.Lock()
	r.resync.request()
	r.mu.Unlock()
}

// Owned returns a copy of the ownership record.
func (r *Reconciler) Owned() runstate.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ownership.owned.Clone()
}

// OwnedServices returns a copy of the record's virtual servers and their
// owners only: what a metrics scrape labels its series with.
func (r *Reconciler) OwnedServices() map[ipvs.Key]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.ownership.owned.Services)
}

// Sync makes d the whole desired state and reconciles the kernel towards
// it. It carries on past failures: the returned error joins every failed
// operation, the Result says what was done, and failed work is retried on
// the next Sync or Apply. Comparing d with the state held costs a walk of
// d, without allocation when nothing changed; only what changed is then
// reconciled. A virtual server whose desired value is invalid is left as
// it is, neither changed nor deleted.
func (r *Reconciler) Sync(ctx context.Context, d desired.State) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconcile(ctx, r.want.replace(d))
}

// Apply changes the desired state by u and reconciles the kernel towards
// it, as Sync does. It normalizes and validates only the virtual servers u
// sets, and reconciles only those, the ones u deletes, and earlier failed
// work, so its cost follows the change and not the size of the table. An
// empty Update retries failed work, checks drains and, when due, runs the
// full resync.
func (r *Reconciler) Apply(ctx context.Context, u desired.Update) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconcile(ctx, r.want.update(u))
}

// reconcile is the core of Sync and Apply: it moves the kernel towards the
// desired state held, looking at the dirty keys only unless a full resync
// is due. changed: the valid desired services changed since the last sync.
func (r *Reconciler) reconcile(ctx context.Context, changed bool) (Result, error) {
	if changed {
		r.publisher.changed()
	}
	var res Result
	now := r.deps.Now()
	res.Errors = append(res.Errors, r.want.invalidErrors()...)

	actual, err := r.dumpIfDue(now, &res)
	if err != nil {
		res.fail(err)
		r.publish(now, &res)
		return res, errors.Join(res.Errors...)
	}
	plans := r.planServices(actual, now, &res)
	plans = r.saveAdopted(plans, &res)
	addrs := r.planAddresses(actual, &res)
	plans = r.claim(plans, &addrs, &res)

	binding := r.bindAddresses(&addrs, &res)
	r.applyPlans(ctx, plans, now, &res)
	r.keepPlans(plans)
	r.bindWait(&addrs, binding, &res)
	r.retries.prune(r.want.dirty)
	r.checkDrains(actual, now, &res)
	r.unbindAddresses(&addrs, &res)
	// After the kernel writes: the copy for inspection tools must not
	// delay programming.
	r.publish(now, &res)

	r.finish(now, &res)
	if res.SweepDone {
		r.resync.finished(r.deps.Now())
		r.programmed = true
	}
	res.report(r.log)
	return res, errors.Join(res.Errors...)
}

// publish writes the valid desired services when a change is pending and
// the publish interval allows.
func (r *Reconciler) publish(now time.Time, res *Result) {
	if !r.publisher.due(now) {
		return
	}
	if err := r.publisher.write(now, r.want.takeUnpublished(), r.want.validCount()); err != nil {
		res.fail(err)
	}
}

// claim records what the plans are about to create before creating it: if
// ipvsd dies between the two, the restarted process still knows it is
// ours. When the record cannot be saved, nothing new is created.
func (r *Reconciler) claim(plans []plan, addrs *addrPlan, res *Result) []plan {
	plans = r.dropUnrecordable(plans, res)
	claimed, ok := r.ownership.claims(plans, addrs.add)
	if !ok {
		return plans
	}
	if err := r.ownership.saveClaims(claimed); err != nil {
		res.fail(err)
		addrs.add, addrs.failed = nil, true
		return r.dropCreates(plans)
	}
	return plans
}

// applyPlans runs the plans in key order until ctx ends; what is not done
// is looked at again on the next sync. Plans go in groups whose writes
// are batched where the kernel allows (sendAhead); ctx is checked between
// groups, since a group's writes may already be in the kernel.
func (r *Reconciler) applyPlans(ctx context.Context, plans []plan, now time.Time, res *Result) {
	for lo := 0; lo < len(plans); {
		if err := ctx.Err(); err != nil {
			res.fail(fmt.Errorf("sync interrupted: %w", err))
			for _, q := range plans[lo:] {
				r.want.markDirty(q.key)
			}
			if res.Full {
				// The services not reached keep a model older than the
				// dump: repair them on the next sync.
				r.resync.request()
			}
			return
		}
		hi := lo + r.sendAhead(plans[lo:])
		for i := lo; i < hi; i++ {
			p := plans[i]
			plans[i].diffed, plans[i].ahead = nil, nil // held for the group only
			if r.applyPlan(p, now, res) {
				r.retries.succeeded(p.key)
				continue
			}
			r.want.markDirty(p.key)
			r.retries.failed(p.key, p.want, now, res.lastError())
		}
		lo = hi
	}
}

// finish saves the ownership record, says when the next sync is needed and
// reports the conflicts.
func (r *Reconciler) finish(now time.Time, res *Result) {
	if err := r.ownership.save(); err != nil {
		res.fail(err)
	}
	for _, wait := range []time.Duration{r.publisher.wait(now), r.retries.next(now)} {
		if wait > 0 && (res.RequeueAfter == 0 || wait < res.RequeueAfter) {
			res.RequeueAfter = wait
		}
	}
	res.Conflicts = sortedKeys(r.conflicts)
	r.logConflicts(res.Conflicts)
}

// logConflicts logs each conflict once when it appears and once when it
// is gone. A conflict is no sync error: it is a steady state that only
// its owner can end, so retrying, counting it as a failed sync or failing
// a health check would change nothing; the sources report it (an Event,
// a metric).
func (r *Reconciler) logConflicts(now []ipvs.Key) {
	if len(now) == len(r.logged) && !slices.ContainsFunc(now, func(k ipvs.Key) bool { return !r.logged[k] }) {
		return // the same conflicts: nothing to say, nothing to allocate
	}
	seen := make(map[ipvs.Key]bool, len(now))
	for _, k := range now {
		seen[k] = true
		if r.logged[k] {
			continue
		}
		owner := ""
		if w := r.want.byKey[k]; w != nil && w.vs != nil {
			owner = w.vs.Owner
		}
		r.log.Warn("desired virtual server left alone", zap.Stringer("virtualServer", k), zap.String("owner", owner), zap.Error(ErrForeign))
	}
	for k := range r.logged {
		if !seen[k] {
			r.log.Info("virtual server no longer held by someone else", zap.Stringer("virtualServer", k))
		}
	}
	r.logged = seen
}

// ErrForeign describes a desired virtual server that already exists in the
// kernel but was not created by ipvsd; it is left untouched and listed in
// Result.Conflicts.
var ErrForeign = errors.New("exists in the kernel but was not created by ipvsd")

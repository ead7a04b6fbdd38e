package reconciler

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
	mu    sync.Mutex
	cfg   Config
	deps  Deps
	log   *zap.Logger
	store runstate.OwnershipStore
	rec   runstate.Record // what we own, as last saved unless recDirty
	// recDirty: rec changed since it was last saved. Tracked rather than
	// found by comparing records, which would cost the whole record on
	// every sync.
	recDirty bool

	// want is the desired state, by key; invalid indexes its invalid
	// entries (kept untouched, reported on every sync).
	want    map[ipvs.Key]*wanted
	invalid map[ipvs.Key]bool
	gen     uint64 // Syncs so far, for wanted.gen
	// dirty are the keys the next incremental sync looks at: desired
	// values changed since they were applied, and work that failed or was
	// not done. Every other key is as it was last applied.
	dirty map[ipvs.Key]bool

	svcs      map[ipvs.Key]*svcState
	conflicts map[ipvs.Key]bool
	// draining indexes the services that may have draining real servers
	// (a superset, pruned by the drain check), so the check does not walk
	// every service.
	draining map[ipvs.Key]bool

	// desired publishes the valid desired services for `ipvsd list
	// --drift`; publishDirty: they changed since last published.
	published    runstate.DesiredStore
	publishDirty bool
	lastPublish  time.Time

	// addrs is the desired address set; addrsDirty makes the next sync
	// reconcile it: it changed, or the last attempt failed.
	addrs      map[netip.Addr]bool
	addrsDirty bool

	needFull bool
	lastFull time.Time
}

// svcState is one of our virtual servers as we believe the kernel holds it.
type svcState struct {
	// want is the normalized desired value last applied without error; nil
	// means the next sync must diff this service again.
	want *desired.VirtualServer
	// have models the kernel's service after our writes. Connection
	// counts in it are stale; the drain check reads them afresh.
	have ipvs.ServiceWithDests
	// drains are real servers draining at weight 0.
	drains map[ipvs.DestKey]drain
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
		cfg:        cfg,
		deps:       deps,
		log:        log,
		store:      runstate.OwnershipStore{Path: cfg.RecordPath},
		published:  runstate.DesiredStore{Path: runstate.DesiredPath(cfg.RecordPath)},
		want:       map[ipvs.Key]*wanted{},
		svcs:       map[ipvs.Key]*svcState{},
		conflicts:  map[ipvs.Key]bool{},
		addrsDirty: true,
		needFull:   true,
	}
	rec, err := r.store.Load()
	if err != nil {
		return nil, err
	}
	r.rec = rec
	return r, nil
}

// RequestFullResync makes the next Sync dump the kernel and repair drift.
func (r *Reconciler) RequestFullResync() {
	r.mu.Lock()
	r.needFull = true
	r.mu.Unlock()
}

// Owned returns a copy of the ownership record.
func (r *Reconciler) Owned() runstate.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec.Clone()
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
	r.replace(d)
	return r.reconcile(ctx)
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
	r.update(u)
	return r.reconcile(ctx)
}

// reconcile is the core of Sync and Apply: it moves the kernel towards the
// desired state held, looking at the dirty keys only unless a full resync
// is due.
func (r *Reconciler) reconcile(ctx context.Context) (Result, error) {
	var res Result
	now := r.deps.Now()
	r.invalidErrors(&res)
	r.publish(now, &res)

	full := r.needFull || now.Sub(r.lastFull) >= r.cfg.FullResyncInterval
	var actual map[ipvs.Key]*ipvs.ServiceWithDests
	if full {
		res.Full = true
		res.Dumps++
		dump, err := r.deps.Kernel.Dump()
		if err != nil {
			r.needFull = true
			res.fail(fmt.Errorf("dumping IPVS table: %w", err))
			return res, errors.Join(res.Errors...)
		}
		actual = make(map[ipvs.Key]*ipvs.ServiceWithDests, len(dump))
		for i := range dump {
			actual[dump[i].Key] = &dump[i]
		}
		// Ops that find the kernel unlike the dump set it again.
		r.needFull = false
		r.lastFull = now
	}

	plans := r.planServices(actual, &res)
	addrs := r.planAddresses(full, &res)

	// Claim what we are about to create before creating it: if ipvsd dies
	// between the two, the restarted process still knows it is ours.
	if claimed, ok := r.claims(plans, addrs.add); ok {
		if err := r.store.Save(claimed); err != nil {
			res.fail(err)
			plans = r.dropCreates(plans)
			addrs.add, addrs.failed = nil, true
		} else {
			r.rec = claimed
			r.recDirty = false
		}
	}

	r.bindAddresses(&addrs, &res)
	for i, p := range plans {
		if err := ctx.Err(); err != nil {
			res.fail(fmt.Errorf("sync interrupted: %w", err))
			for _, q := range plans[i:] {
				r.markDirty(q.key)
			}
			if full {
				// The services not reached keep a model older than the
				// dump: repair them on the next sync.
				r.needFull = true
			}
			break
		}
		if !r.applyPlan(p, now, &res) {
			r.markDirty(p.key)
		}
	}
	r.checkDrains(actual, now, &res)
	r.unbindAddresses(&addrs, &res)

	if r.recDirty {
		if err := r.store.Save(r.rec); err != nil {
			res.fail(err)
		} else {
			r.recDirty = false
		}
	}
	if wait := r.publishWait(now); wait > 0 && (res.RequeueAfter == 0 || wait < res.RequeueAfter) {
		res.RequeueAfter = wait
	}
	res.Conflicts = sortedKeys(r.conflicts)
	for _, k := range res.Conflicts {
		owner := ""
		if w := r.want[k]; w != nil && w.vs != nil {
			owner = w.vs.Owner
		}
		res.Errors = append(res.Errors, fmt.Errorf("virtual server %s (%s): %w", k, owner, ErrForeign))
	}
	r.logResult(&res)
	return res, errors.Join(res.Errors...)
}

// claims returns the record with the services and addresses this sync is
// about to create, and whether that adds anything.
func (r *Reconciler) claims(plans []plan, addrs []netip.Addr) (runstate.Record, bool) {
	var claimed runstate.Record
	grow := func() {
		if claimed.Services == nil {
			claimed = r.rec.Clone()
		}
	}
	for _, p := range plans {
		if _, owned := r.rec.Services[p.key]; p.creates() && !owned {
			grow()
			claimed.Services[p.key] = p.want.Owner
		}
	}
	for _, a := range addrs {
		if !r.rec.Addresses[a] {
			grow()
			claimed.Addresses[a] = true
		}
	}
	return claimed, claimed.Services != nil
}

// ErrForeign marks a desired virtual server that already exists in the
// kernel but was not created by ipvsd; it is left untouched.
var ErrForeign = errors.New("exists in the kernel but was not created by ipvsd")

func (res *Result) fail(err error) {
	res.Errors = append(res.Errors, err)
	res.NeedsRetry = true
}

func (r *Reconciler) logResult(res *Result) {
	if res.Writes() == 0 && len(res.Errors) == 0 && !res.Full {
		return
	}
	fields := []zap.Field{
		zap.Bool("full", res.Full),
		zap.Int("dumps", res.Dumps),
		zap.Int("planned", res.Planned),
		zap.Stringer("services", res.Services),
		zap.Stringer("destinations", res.Destinations),
		zap.Stringer("addresses", res.Addresses),
		zap.Int("drainsStarted", res.DrainsStarted),
		zap.Int("drainsFinished", res.DrainsFinished),
		zap.Int("draining", res.Draining),
		zap.Int("errors", len(res.Errors)),
	}
	if len(res.Errors) > 0 {
		r.log.Warn("sync finished with errors", append(fields, zap.Error(errors.Join(res.Errors...)))...)
		return
	}
	r.log.Info("sync finished", fields...)
}

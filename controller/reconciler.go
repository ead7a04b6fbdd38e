package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Config tunes the reconciler. The zero value is completed by Defaults.
type Config struct {
	// RecordPath is the ownership record (DefaultRecordPath).
	RecordPath string
	// FullResyncInterval is how often Sync dumps the kernel and repairs
	// drift, even when nothing changed (default 60 s).
	FullResyncInterval time.Duration
	// DrainCheckInterval is how often the connection counts of draining
	// real servers are read (default 5 s).
	DrainCheckInterval time.Duration
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.RecordPath == "" {
		c.RecordPath = DefaultRecordPath
	}
	if c.FullResyncInterval == 0 {
		c.FullResyncInterval = 60 * time.Second
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

// Reconciler moves the kernel to a Desired state. It keeps what it last
// applied, so a sync after a small change writes only that change and does
// not read the kernel; every FullResyncInterval it dumps the kernel once
// and repairs drift. Sync calls are serialised.
type Reconciler struct {
	mu    sync.Mutex
	cfg   Config
	deps  Deps
	log   *zap.Logger
	store recordStore
	rec   Record // what we own, as last saved

	svcs      map[ipvs.Key]*svcState
	conflicts map[ipvs.Key]bool

	// addrsApplied is the desired address set last reconciled without
	// error; nil forces the addresses to be reconciled.
	addrsApplied map[netip.Addr]bool

	needFull bool
	lastFull time.Time
}

// svcState is one of our virtual servers as we believe the kernel holds it.
type svcState struct {
	// want is the normalized desired value last applied without error; nil
	// means the next sync must diff this service again.
	want *VirtualServer
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
		cfg:       cfg,
		deps:      deps,
		log:       log,
		store:     recordStore{path: cfg.RecordPath},
		svcs:      map[ipvs.Key]*svcState{},
		conflicts: map[ipvs.Key]bool{},
		needFull:  true,
	}
	rec, err := r.store.load()
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
func (r *Reconciler) Owned() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec.clone()
}

// Sync reconciles the kernel towards d. It carries on past failures: the
// returned error joins every failed operation, the Result says what was
// done, and failed work is retried on the next Sync.
func (r *Reconciler) Sync(ctx context.Context, d Desired) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res Result
	now := r.deps.Now()
	want, keep := r.index(d, &res)

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

	plans := r.planServices(want, keep, actual)
	addrs := r.planAddresses(d.Addresses, full, &res)

	// Claim what we are about to create before creating it: if ipvsd dies
	// between the two, the restarted process still knows it is ours.
	if claimed, ok := r.claims(plans, addrs.add); ok {
		if err := r.store.save(claimed); err != nil {
			res.fail(err)
			plans = r.dropCreates(plans)
			addrs.add, addrs.failed = nil, true
		} else {
			r.rec = claimed
		}
	}

	r.bindAddresses(&addrs, &res)
	for _, p := range plans {
		if err := ctx.Err(); err != nil {
			res.fail(fmt.Errorf("sync interrupted: %w", err))
			break
		}
		r.applyPlan(p, now, &res)
	}
	r.checkDrains(actual, now, &res)
	r.unbindAddresses(&addrs, &res)
	r.finishAddresses(&addrs)

	if err := r.store.save(r.rec); err != nil {
		res.fail(err)
	}
	res.Conflicts = sortedKeys(r.conflicts)
	for _, k := range res.Conflicts {
		vs := want[k]
		res.Errors = append(res.Errors, fmt.Errorf("virtual server %s (%s): %w", k, vs.Owner, ErrForeign))
	}
	r.logResult(&res)
	return res, errors.Join(res.Errors...)
}

// claims returns the record with the services and addresses this sync is
// about to create, and whether that adds anything.
func (r *Reconciler) claims(plans []plan, addrs []netip.Addr) (Record, bool) {
	var claimed Record
	grow := func() {
		if claimed.Services == nil {
			claimed = r.rec.clone()
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

// index validates and normalizes the desired virtual servers. keep holds
// keys whose desired value is invalid: they are neither changed nor
// deleted, so a typo in one service cannot take it down.
func (r *Reconciler) index(d Desired, res *Result) (want map[ipvs.Key]*VirtualServer, keep map[ipvs.Key]bool) {
	want = make(map[ipvs.Key]*VirtualServer, len(d.Services))
	keep = map[ipvs.Key]bool{}
	for i := range d.Services {
		n := d.Services[i].normalize()
		if err := n.validate(); err != nil {
			res.Errors = append(res.Errors, err)
			keep[n.Key] = true
			continue
		}
		if _, dup := want[n.Key]; dup {
			res.Errors = append(res.Errors, fmt.Errorf("virtual server %s (%s): listed twice", n.Key, n.Owner))
			keep[n.Key] = true
			continue
		}
		want[n.Key] = &n
	}
	for k := range keep {
		delete(want, k)
	}
	return want, keep
}

func (r *Reconciler) logResult(res *Result) {
	if res.Writes() == 0 && len(res.Errors) == 0 && !res.Full {
		return
	}
	fields := []zap.Field{
		zap.Bool("full", res.Full),
		zap.Int("dumps", res.Dumps),
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

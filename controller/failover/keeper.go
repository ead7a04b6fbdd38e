package failover

import (
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// Desired is what a source asks of the host.
type Desired struct {
	// Daemons are the sync daemons to run, at most one per role.
	Daemons []ipvs.SyncDaemon
	// SloppyTCP and SloppySCTP set net.ipv4.vs.sloppy_tcp and sloppy_sctp
	// to 1. False leaves the setting as it is: another program (or the
	// operator) may have set it, and accepting mid-flow packets is never
	// what breaks a connection.
	SloppyTCP, SloppySCTP bool
}

// Record keeps the daemons ipvsd started (runstate.SyncDaemonStore).
type Record interface {
	Load() ([]ipvs.SyncDaemon, error)
	Save([]ipvs.SyncDaemon) error
}

// Deps are where the settings live.
type Deps struct {
	Daemons ipvs.SyncDaemons
	Record  Record
	// ProcSys is the sysctl root (netlinkutil.ProcSys if empty).
	ProcSys string
	Log     *zap.Logger
}

// Result says what one Ensure did.
type Result struct {
	Started, Stopped []ipvs.SyncState
}

// Keeper applies Desired. It is not safe for concurrent use: the
// programmer's one loop calls it.
type Keeper struct {
	d Deps
	// owned is the record as last loaded or saved; nil until loaded.
	owned  []ipvs.SyncDaemon
	loaded bool
	// last is the Desired last applied without error: an unchanged one
	// needs no kernel read until the next full resync.
	last *Desired
}

// New returns a Keeper on d.
func New(d Deps) *Keeper {
	if d.ProcSys == "" {
		d.ProcSys = netlinkutil.ProcSys
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	return &Keeper{d: d}
}

// Ensure makes the host match want. With full unset, a want equal to the
// last one applied without error costs nothing; with full set (a full
// resync) the kernel is read again, so a daemon stopped by hand comes
// back. It tries every part and returns, joined, what failed, each error
// naming its daemon or setting.
func (k *Keeper) Ensure(want Desired, full bool) (Result, error) {
	if !full && k.last != nil && equalDesired(*k.last, want) {
		return Result{}, nil
	}
	res, err := k.ensureDaemons(want.Daemons)
	err = errors.Join(err, k.ensureSloppy(want))
	if err == nil {
		k.last = &want
	} else {
		k.last = nil
	}
	return res, err
}

func (k *Keeper) ensureDaemons(want []ipvs.SyncDaemon) (Result, error) {
	if !k.loaded {
		owned, err := k.d.Record.Load()
		if err != nil {
			// Without the record nothing is known to be ours: touch
			// nothing rather than stop someone else's daemon.
			return Result{}, err
		}
		k.owned, k.loaded = owned, true
	}
	running, err := k.d.Daemons.SyncDaemons()
	if err != nil {
		return Result{}, err
	}
	ops, own, foreign := Plan(want, running, k.owned)
	for _, f := range foreign {
		k.d.Log.Debug("sync daemon not ipvsd's, left running", zap.Stringer("daemon", f))
	}
	if len(ops) == 0 {
		return Result{}, k.save(own)
	}
	// Claim what is about to start before starting it, so a crash in
	// between leaves it ours; give up what was stopped only once stopped.
	before := k.owned
	if err := k.save(union(before, own)); err != nil {
		return Result{}, err
	}
	var res Result
	var errs []error
	for _, op := range ops {
		if err := k.apply(op, &res); err != nil {
			errs = append(errs, err)
			own = afterFailure(op, own, before, res)
		}
	}
	return res, errors.Join(append(errs, k.save(own))...)
}

// afterFailure is what is ipvsd's once op failed: a daemon that did not
// start is nobody's, and one that did not stop is still whoever's it was
// (before, the record before this plan).
func afterFailure(op Op, own, before []ipvs.SyncDaemon, res Result) []ipvs.SyncDaemon {
	own = withoutRole(own, op.Role)
	if op.Stop && !slices.Contains(res.Stopped, op.Role) && !op.Foreign {
		if o := byRole(before, op.Role); o != nil {
			own = union(own, []ipvs.SyncDaemon{*o})
		}
	}
	return own
}

func (k *Keeper) apply(op Op, res *Result) error {
	if op.Stop {
		if err := k.d.Daemons.StopSyncDaemon(op.Role); err != nil {
			return fmt.Errorf("stopping the %s sync daemon: %w", op.Role, err)
		}
		res.Stopped = append(res.Stopped, op.Role)
		if op.Foreign {
			k.d.Log.Warn("stopped a sync daemon ipvsd did not start: the config asks for this role with other settings",
				zap.Stringer("role", op.Role))
		} else {
			k.d.Log.Info("stopped sync daemon", zap.Stringer("role", op.Role))
		}
	}
	if op.Start != nil {
		d := *op.Start
		if err := k.d.Daemons.StartSyncDaemon(d); err != nil {
			return fmt.Errorf("starting the %s sync daemon on %s (sync ID %d): %w", d.State, d.Interface, d.SyncID, err)
		}
		res.Started = append(res.Started, op.Role)
		k.d.Log.Info("started sync daemon", zap.Stringer("daemon", d))
	}
	return nil
}

// save writes the record when it changed.
func (k *Keeper) save(own []ipvs.SyncDaemon) error {
	if slices.Equal(own, k.owned) {
		return nil
	}
	if err := k.d.Record.Save(own); err != nil {
		return err
	}
	k.owned = slices.Clone(own)
	return nil
}

// ensureSloppy sets the sloppy modes asked for, logging each change.
func (k *Keeper) ensureSloppy(want Desired) error {
	var set []netlinkutil.Sysctl
	if want.SloppyTCP {
		set = append(set, netlinkutil.Sysctl{Name: "net.ipv4.vs.sloppy_tcp", Value: "1"})
	}
	if want.SloppySCTP {
		set = append(set, netlinkutil.Sysctl{Name: "net.ipv4.vs.sloppy_sctp", Value: "1"})
	}
	_, err := netlinkutil.EnsureSysctls(k.d.Log, k.d.ProcSys, set)
	return err
}

// union is a with b's daemons replacing a's of the same role.
func union(a, b []ipvs.SyncDaemon) []ipvs.SyncDaemon {
	var out []ipvs.SyncDaemon
	for _, r := range Roles {
		if d := byRole(b, r); d != nil {
			out = append(out, *d)
		} else if d := byRole(a, r); d != nil {
			out = append(out, *d)
		}
	}
	return out
}

func withoutRole(ds []ipvs.SyncDaemon, r ipvs.SyncState) []ipvs.SyncDaemon {
	return slices.DeleteFunc(slices.Clone(ds), func(d ipvs.SyncDaemon) bool { return d.State == r })
}

func equalDesired(a, b Desired) bool {
	return a.SloppyTCP == b.SloppyTCP && a.SloppySCTP == b.SloppySCTP && slices.Equal(a.Daemons, b.Daemons)
}

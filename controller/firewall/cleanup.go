package firewall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Cleanup removes exactly our jumps, our chains and our sets, in that
// order (a set cannot be destroyed while a rule references it), in every
// family of the back-end in use.
func (fw *Firewall) Cleanup(ctx context.Context) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.applied, fw.rulesOK = nil, false
	var errs []error
	for _, f := range fw.families {
		errs = append(errs, removeChains(ctx, fw.ipt[f], f))
	}
	if err := errors.Join(errs...); err != nil {
		// Destroying sets still referenced by our rules would fail
		// anyway; report why the rules stayed.
		return err
	}
	return destroySets(ctx, fw.sets)
}

// removeChains removes our jumps and chains from every table of one
// family, the tables one by one so that one refused does not keep the
// others.
func removeChains(ctx context.Context, ipt IPTables, f ipvs.Family) error {
	var errs []error
	for _, table := range tableNames {
		save, err := ipt.Save(ctx, table)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		text := cleanupText(table, parseTable(save))
		if text == "" {
			continue
		}
		if err := ipt.Restore(ctx, text); err != nil {
			errs = append(errs, fmt.Errorf("removing our chains from %s table %s: %w", f, table, err))
		}
	}
	return errors.Join(errs...)
}

// destroySets destroys those of our sets that exist, in one ipset
// process. The kernel refuses a set still referenced by a rule (of the
// other back-end, say), and ipset restore stops there; the sets after it
// are then destroyed one at a time, so that everything that can go does
// and each refusal is named.
func destroySets(ctx context.Context, sets IPSet) error {
	ours, err := ourSetNames(ctx, sets)
	if err != nil || len(ours) == 0 {
		return err
	}
	var script strings.Builder
	for _, n := range ours {
		script.WriteString("destroy " + n + "\n")
	}
	if sets.Restore(ctx, script.String()) == nil {
		return nil
	}
	if ours, err = ourSetNames(ctx, sets); err != nil {
		return err
	}
	_, err = destroyEach(ctx, sets, ours)
	return err
}

// destroyEach destroys the sets named, one at a time so that each refusal
// (a set a rule still references) is named and the others still go. It
// returns those destroyed.
func destroyEach(ctx context.Context, sets IPSet, names []string) ([]string, error) {
	var done []string
	var errs []error
	for _, n := range names {
		if err := sets.Restore(ctx, "destroy "+n+"\n"); err != nil {
			errs = append(errs, fmt.Errorf("destroying ipset %s: %w", n, err))
			continue
		}
		done = append(done, n)
	}
	return done, errors.Join(errs...)
}

// ourSetNames are those of our sets that exist.
func ourSetNames(ctx context.Context, sets IPSet) ([]string, error) {
	names, err := sets.Names(ctx)
	if err != nil {
		return nil, err
	}
	var ours []string
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		for _, s := range SetSpecs(f) {
			if slices.Contains(names, s.Name) {
				ours = append(ours, s.Name)
			}
		}
	}
	return ours, nil
}

// CleanupTools find what CleanupHost drives. An IPTables finder returns an
// error wrapping ErrNotInstalled for a back-end and family with no tools:
// no rules of ours can be read or written there, so there is nothing to
// clean.
type CleanupTools struct {
	IPTables func(ctx context.Context, m Mode, f ipvs.Family) (IPTables, error)
	IPSet    func(ctx context.Context) (IPSet, error)
}

// HostCleanupTools are the host's tools under whichever names they are
// installed (see FindBinaries), and ipset at ipsetPath ("ipset" on $PATH
// when empty).
func HostCleanupTools(x Exec, ipsetPath string) CleanupTools {
	if ipsetPath == "" {
		ipsetPath = "ipset"
	}
	return CleanupTools{
		IPTables: func(ctx context.Context, m Mode, f ipvs.Family) (IPTables, error) {
			b, err := FindBinaries(ctx, x, m, f)
			if err != nil {
				return nil, err
			}
			return iptablesBinaries{x: x, save: b.Save, restore: b.Restore}, nil
		},
		IPSet: func(context.Context) (IPSet, error) {
			path, err := x.LookPath(ipsetPath)
			if err != nil {
				return nil, fmt.Errorf("finding ipset: %w", err)
			}
			return newIPSetBinary(path), nil
		},
	}
}

// CleanupReport says what CleanupHost removed.
type CleanupReport struct {
	// Chains are the back-ends whose every installed family is now free
	// of our chains and jumps.
	Chains []Mode
	// Sets is true when none of our sets is left.
	Sets bool
}

// CleanupHost removes our chains and jumps from each back-end of modes in
// both families, then our sets. Unlike Firewall.Cleanup it needs neither
// every back-end nor ipset: each part is cleaned if its tools are there,
// and what could not be cleaned is reported, joined, each error naming its
// back-end and family or the ipsets. Sets are tried even when some chains
// stayed: those not referenced by what stayed can go.
func CleanupHost(ctx context.Context, log *zap.Logger, modes []Mode, tools CleanupTools) (CleanupReport, error) {
	var rep CleanupReport
	var errs []error
	for _, m := range modes {
		var failed, found bool
		for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
			ipt, err := tools.IPTables(ctx, m, f)
			if errors.Is(err, ErrNotInstalled) {
				log.Debug("no iptables tools", zap.String("mode", string(m)), zap.Stringer("family", f), zap.Error(err))
				continue
			}
			if err == nil {
				found = true
				err = removeChains(ctx, ipt, f)
			}
			if err != nil {
				failed = true
				errs = append(errs, fmt.Errorf("iptables %s %s: %w", m, f, err))
			}
		}
		if found && !failed {
			rep.Chains = append(rep.Chains, m)
		}
	}
	sets, err := tools.IPSet(ctx)
	if err == nil {
		err = destroySets(ctx, sets)
	}
	if err != nil {
		return rep, errors.Join(errors.Join(errs...), fmt.Errorf("ipsets: %w", err))
	}
	rep.Sets = true
	return rep, errors.Join(errs...)
}

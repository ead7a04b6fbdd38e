package firewall

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// Apply programs u. An update that keeps the options and follows a
// successful one costs what it changes: only the entries of the owners it
// names are computed, the elements they gain or lose (counted across
// owners, so an element another owner still wants stays) are written in
// one ipset restore, and the rules are not looked at (they depend on the
// options alone) unless their last sync failed. A whole update, the first
// one, one that changes the options and one after a failed write are
// applied whole, as Sync applies a Desired.
//
// A part that is invalid is refused with an error naming its owner, who
// keeps its previous part; the rest of u is applied all the same.
func (fw *Firewall) Apply(ctx context.Context, u Update) (Result, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.apply(ctx, u, false)
}

// Repair is the periodic re-assertion of an Update: it is applied whole,
// and the sets too are compared with the kernel (as Check does), so
// entries or sets removed by hand come back. It costs O(services).
func (fw *Firewall) Repair(ctx context.Context, u Update) (Result, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.apply(ctx, u, true)
}

func (fw *Firewall) apply(ctx context.Context, u Update, check bool) (Result, error) {
	u.Options.Defaults()
	if err := u.Options.Validate(); err != nil {
		return Result{}, fmt.Errorf("invalid firewall state: %w", err)
	}
	u, partErr := fw.validParts(u)
	// Whole first: a Desired handed to Sync is all options, and
	// comparing it would walk every service.
	if u.Whole || check || fw.applied == nil || !reflect.DeepEqual(u.Options, fw.state.Options) {
		if check {
			fw.applied = nil
		}
		fw.recount(u)
		fw.state.Apply(u)
		res, err := fw.sync(ctx, fw.state.Desired())
		return res, errors.Join(partErr, err)
	}
	res, err := fw.applyParts(ctx, u)
	return res, errors.Join(partErr, err)
}

// recount moves the counts to what u makes of the state, before u is
// applied. Under the same options only the owners whose part u changes
// are counted again (a full resync's whole update usually changes none),
// so that a periodic whole update does not rebuild the counts; a change
// of options drops them, for the next partial update to count afresh.
func (fw *Firewall) recount(u Update) {
	if fw.refs == nil || !reflect.DeepEqual(u.Options, fw.state.Options) {
		fw.refs = nil
		return
	}
	makers := fw.makers(&u.Options)
	var old, new []setEntry
	change := func(prev, next Part) {
		old = append(old, partEntries(makers, prev.Services, prev.Hairpins)...)
		new = append(new, partEntries(makers, next.Services, next.Hairpins)...)
	}
	for o, p := range u.Parts {
		// DeepEqual returns at once for a part sharing its slices with
		// the one held, as an unchanged Service's does.
		if prev := fw.state.Parts[o]; !reflect.DeepEqual(prev, p) {
			change(prev, p)
		}
	}
	if u.Whole {
		for o, prev := range fw.state.Parts {
			if _, ok := u.Parts[o]; !ok {
				change(prev, Part{})
			}
		}
	}
	changeRefs(fw.refs, old, new)
}

// makers are the entry makers of fw's families under d's options.
func (fw *Firewall) makers(d *Desired) []*entryMaker {
	makers := make([]*entryMaker, 0, len(fw.families))
	for _, f := range fw.families {
		makers = append(makers, newEntryMaker(d, f))
	}
	return makers
}

// applyParts applies the parts of u, whose options are those applied.
func (fw *Firewall) applyParts(ctx context.Context, u Update) (Result, error) {
	var res Result
	makers := fw.makers(&u.Options)
	if fw.refs == nil {
		fw.refs = countRefs(makers, &fw.state)
	}
	var old, new []setEntry
	for o, p := range u.Parts {
		prev := fw.state.Parts[o]
		old = append(old, partEntries(makers, prev.Services, prev.Hairpins)...)
		new = append(new, partEntries(makers, p.Services, p.Hairpins)...)
	}
	fw.state.Apply(u)
	add, del := changeRefs(fw.refs, old, new)
	if len(add)+len(del) > 0 {
		var plan setPlan
		for _, se := range add {
			plan.Add = append(plan.Add, setOp{se.Set, se.Entry.String() + se.Entry.Extensions()})
		}
		for _, se := range del {
			plan.Del = append(plan.Del, setOp{se.Set, se.Entry.String()})
		}
		if err := fw.sets.Restore(ctx, plan.script()); err != nil {
			// What the failed batch left is unknown: the next update
			// is applied whole, against the kernel.
			fw.applied = nil
			return res, fmt.Errorf("updating ipsets %s: %w", strings.Join(plan.names(), " "), err)
		}
		fw.noteApplied(add, del)
		res.EntriesAdded, res.EntriesDeleted = len(add), len(del)
		fw.log.Info("updated ipsets", zap.Int("owners", len(u.Parts)), zap.Int("added", len(add)), zap.Int("deleted", len(del)))
	}
	if !fw.rulesOK {
		return res, fw.syncRules(ctx, &u.Options, &res)
	}
	return res, nil
}

// noteApplied records in fw.applied what a successful batch changed.
func (fw *Firewall) noteApplied(add, del []setEntry) {
	for _, se := range add {
		a := fw.applied[se.Set]
		if a == nil {
			// Every set exists after a whole sync; should one be
			// missing from the record, trust the kernel next time.
			fw.applied = nil
			return
		}
		a.Entries[se.Entry.String()] = se.Entry.Extensions()
	}
	for _, se := range del {
		if a := fw.applied[se.Set]; a != nil {
			delete(a.Entries, se.Entry.String())
		}
	}
}

// validParts drops u's invalid parts, with an error naming each one's
// owner; such an owner keeps its previous part.
func (fw *Firewall) validParts(u Update) (Update, error) {
	type bad struct {
		owner string
		err   error
	}
	var bads []bad
	var parts map[string]Part // u.Parts, copied once a part is dropped
	for o, p := range u.Parts {
		errs := u.Options.validatePart(p.Services, p.Hairpins)
		if len(errs) == 0 {
			continue
		}
		bads = append(bads, bad{o, errors.Join(errs...)})
		if parts == nil {
			parts = maps.Clone(u.Parts)
		}
		if prev, ok := fw.state.Parts[o]; ok {
			parts[o] = prev
		} else {
			delete(parts, o)
		}
	}
	if len(bads) == 0 {
		return u, nil
	}
	slices.SortFunc(bads, func(a, b bad) int { return cmp.Compare(a.owner, b.owner) })
	errs := make([]error, 0, len(bads))
	for _, b := range bads {
		errs = append(errs, fmt.Errorf("firewall state of %s: %w", b.owner, b.err))
	}
	u.Parts = parts
	return u, errors.Join(errs...)
}

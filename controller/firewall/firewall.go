package firewall

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Config selects the back-end and families a Firewall programs.
type Config struct {
	// Mode forces the iptables back-end; ModeAuto detects it.
	Mode Mode
	// Families to program; empty means IPv4 and IPv6.
	Families []ipvs.Family
	// IPSetPath is the ipset binary; empty means "ipset" on $PATH.
	IPSetPath string
	// Exec finds and runs the tools; nil means the host's (HostExec).
	Exec Exec
}

// Result says what a Sync changed.
type Result struct {
	SetsCreated    int
	EntriesAdded   int
	EntriesDeleted int
	// ChainsRewritten counts tables whose IPVSD- chains were restored
	// because they were missing or differed from the desired rules.
	ChainsRewritten int
	JumpsInserted   int
}

// EntriesChanged is the number of ipset entries added or deleted.
func (r Result) EntriesChanged() int { return r.EntriesAdded + r.EntriesDeleted }

// Firewall applies Desired to one network namespace's iptables and ipsets.
// Its methods are serialised; it is safe for concurrent use.
type Firewall struct {
	log      *zap.Logger
	mode     Mode
	families []ipvs.Family
	ipt      map[ipvs.Family]IPTables
	opts     map[ipvs.Family]RenderOptions
	sets     IPSet
	mu       sync.Mutex
	// applied is what our sets held after the last successful update.
	// Event-driven syncs diff against it instead of listing the kernel
	// (listing 20,000 entries costs ~100ms, mostly in the kernel's
	// dump); Check drops it to compare with the kernel again.
	applied map[string]*actualSet
	// state is the desired state by owner, as the updates built it;
	// refs counts its entries; nil until a partial update needs them,
	// and after the options changed.
	state State
	refs  refCounts
	// rulesOK: the last rules sync succeeded, so an update that keeps
	// the options need not look at the rules.
	rulesOK bool
}

// Tools are what a Firewall drives: one IPTables per family, all of one
// back-end, and ipset. New finds the real ones; tests pass fakes to
// NewWithTools.
type Tools struct {
	IPTables map[ipvs.Family]IPTables
	// Options are each family's facts about the tools (RandomFully).
	Options map[ipvs.Family]RenderOptions
	IPSet   IPSet
}

// New resolves the back-end (detecting it when cfg.Mode is ModeAuto) and
// the tools, without changing anything.
func New(ctx context.Context, log *zap.Logger, cfg Config) (*Firewall, error) {
	cfg.Families = families(cfg)
	x := cfg.Exec
	if x == nil {
		x = HostExec{}
	}
	if cfg.Mode == ModeAuto {
		d, err := DetectMode(ctx, x)
		if err != nil {
			return nil, err
		}
		log.Info("detected iptables mode", zap.String("mode", string(d.Mode)),
			zap.Int("nftRules", d.Rules[ModeNFT]), zap.Int("legacyRules", d.Rules[ModeLegacy]),
			zap.Strings("nftTools", d.Tools[ModeNFT]), zap.Strings("legacyTools", d.Tools[ModeLegacy]))
		cfg.Mode = d.Mode
	}
	ipsetPath := cfg.IPSetPath
	if ipsetPath == "" {
		ipsetPath = "ipset"
	}
	path, err := x.LookPath(ipsetPath)
	if err != nil {
		return nil, fmt.Errorf("finding ipset: %w", err)
	}
	tools := Tools{IPTables: map[ipvs.Family]IPTables{}, Options: map[ipvs.Family]RenderOptions{}, IPSet: newIPSetBinary(path)}
	var errs []error
	for _, f := range cfg.Families {
		b, o, err := newIPTablesBinaries(ctx, x, cfg.Mode, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tools.IPTables[f], tools.Options[f] = b, o
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewWithTools(log, cfg, tools)
}

// NewWithTools is New with the tools given instead of found: cfg.Mode
// (nft or legacy) names their back-end and cfg.IPSetPath is not read.
func NewWithTools(log *zap.Logger, cfg Config, tools Tools) (*Firewall, error) {
	var errs []error
	if cfg.Mode != ModeNFT && cfg.Mode != ModeLegacy {
		errs = append(errs, fmt.Errorf("tools of iptables mode %q: want nft or legacy", cfg.Mode))
	}
	if tools.IPSet == nil {
		errs = append(errs, errors.New("no ipset tool"))
	}
	fams := families(cfg)
	for _, f := range fams {
		if tools.IPTables[f] == nil {
			errs = append(errs, fmt.Errorf("no iptables tool for %s", f))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fw := &Firewall{log: log, mode: cfg.Mode, families: fams, sets: tools.IPSet,
		ipt: map[ipvs.Family]IPTables{}, opts: map[ipvs.Family]RenderOptions{}}
	for _, f := range fams {
		fw.ipt[f], fw.opts[f] = tools.IPTables[f], tools.Options[f]
	}
	return fw, nil
}

// families are the families cfg asks for; none means both.
func families(cfg Config) []ipvs.Family {
	if len(cfg.Families) == 0 {
		return []ipvs.Family{ipvs.IPv4, ipvs.IPv6}
	}
	return cfg.Families
}

// Mode is the back-end in use.
func (fw *Firewall) Mode() Mode { return fw.mode }

// Rulesets renders what Sync would program, for inspection and tests.
func (fw *Firewall) Rulesets(d Desired) ([]Ruleset, error) {
	d.Defaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var out []Ruleset
	for _, f := range fw.families {
		out = append(out, Render(&d, f, fw.opts[f]))
	}
	return out, nil
}

// Sync makes the kernel match d: sets first (the rules reference them),
// then rules. Sets are diffed against what the previous Sync applied, rules
// against the kernel (one iptables-save per table and family), so a Sync
// with nothing to do writes nothing.
func (fw *Firewall) Sync(ctx context.Context, d Desired) (Result, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.apply(ctx, WholeUpdate(d), false)
}

// Check is the periodic re-assertion: like Sync, but the sets too are
// compared with the kernel, so entries or sets removed by hand come back.
func (fw *Firewall) Check(ctx context.Context, d Desired) (Result, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.apply(ctx, WholeUpdate(d), true)
}

func (fw *Firewall) sync(ctx context.Context, d Desired) (Result, error) {
	d.Defaults()
	if err := d.Validate(); err != nil {
		return Result{}, fmt.Errorf("invalid firewall state: %w", err)
	}
	var res Result
	if err := fw.syncSets(ctx, &d, &res); err != nil {
		fw.rulesOK = false
		return res, err
	}
	err := fw.syncRules(ctx, &d, &res)
	return res, err
}

// syncRules makes the rules match d's options, table by table.
func (fw *Firewall) syncRules(ctx context.Context, d *Desired, res *Result) error {
	var errs []error
	for _, f := range fw.families {
		rs := Render(d, f, fw.opts[f])
		for i := range rs.Tables {
			if err := fw.syncTable(ctx, f, &rs.Tables[i], res); err != nil {
				errs = append(errs, err)
			}
		}
	}
	fw.rulesOK = len(errs) == 0
	return errors.Join(errs...)
}

// SyncSets updates only the ipsets, for callers (and benchmarks) that
// know the rules are in place.
func (fw *Firewall) SyncSets(ctx context.Context, d Desired) (Result, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	d.Defaults()
	if err := d.Validate(); err != nil {
		return Result{}, fmt.Errorf("invalid firewall state: %w", err)
	}
	fw.state.Apply(WholeUpdate(d))
	fw.refs = nil
	var res Result
	err := fw.syncSets(ctx, &d, &res)
	return res, err
}

func (fw *Firewall) syncSets(ctx context.Context, d *Desired, res *Result) error {
	var desired []Set
	for _, f := range fw.families {
		desired = append(desired, DesiredSets(d, f)...)
	}
	actual := fw.applied
	if actual == nil {
		var err error
		if actual, err = fw.ourSets(ctx); err != nil {
			return err
		}
	}
	plan, err := planSets(desired, actual)
	if err != nil {
		return err
	}
	if plan.empty() {
		fw.applied = actual
		return nil
	}
	if err := fw.sets.Restore(ctx, plan.script()); err != nil {
		// What the failed batch left is unknown; list next time.
		fw.applied = nil
		// ipset names only the line it refused.
		return fmt.Errorf("updating ipsets %s: %w", strings.Join(plan.names(), " "), err)
	}
	fw.applied = appliedSets(desired)
	res.SetsCreated += len(plan.Create)
	res.EntriesAdded += len(plan.Add)
	res.EntriesDeleted += len(plan.Del)
	fw.log.Info("updated ipsets", zap.Int("created", len(plan.Create)),
		zap.Int("added", len(plan.Add)), zap.Int("deleted", len(plan.Del)))
	return nil
}

// ourSets reads those of our sets that exist.
func (fw *Firewall) ourSets(ctx context.Context) (map[string]*actualSet, error) {
	ours, err := ourSetNames(ctx, fw.sets)
	if err != nil {
		return nil, err
	}
	text, err := fw.sets.Save(ctx, ours)
	if err != nil {
		return nil, err
	}
	return parseIPSetSave(text)
}

func (fw *Firewall) syncTable(ctx context.Context, f ipvs.Family, t *Table, res *Result) error {
	ipt := fw.ipt[f]
	save, err := ipt.Save(ctx, t.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", f, err)
	}
	plan := planTable(t, parseTable(save))
	if plan.empty() {
		return nil
	}
	if err := ipt.Restore(ctx, plan.restoreText(t)); err != nil {
		// iptables-restore names only the line it refused.
		return fmt.Errorf("%s table %s (%s): %w", f, t.Name, strings.Join(plan.chains(t), " "), err)
	}
	if plan.Rewrite {
		res.ChainsRewritten++
	}
	res.JumpsInserted += len(plan.Missing)
	fw.log.Info("restored iptables chains", zap.Stringer("family", f), zap.String("table", t.Name),
		zap.Bool("rewritten", plan.Rewrite), zap.Int("jumpsInserted", len(plan.Missing)),
		zap.Strings("staleChains", plan.Stale))
	return nil
}

// appliedSets is what the kernel holds once a plan towards desired ran.
func appliedSets(desired []Set) map[string]*actualSet {
	m := make(map[string]*actualSet, len(desired))
	for _, s := range desired {
		a := &actualSet{Type: s.Type, Family: s.Family, SkbInfo: s.SkbInfo, Entries: make(map[string]string, len(s.Entries))}
		for _, e := range s.Entries {
			a.Entries[e.String()] = e.Extensions()
		}
		m[s.Name] = a
	}
	return m
}

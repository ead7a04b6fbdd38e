package standalone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/failover"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Options tune the source; zero values take defaults.
type Options struct {
	// ConfigPath is the file reloaded on SIGHUP and when it changes.
	ConfigPath string
	// WatchInterval is how often the file is polled (default 1 s; negative
	// disables polling, leaving SIGHUP).
	WatchInterval time.Duration
}

// Deps are the source's collaborators.
type Deps struct {
	// Trigger asks the programmer for a sync (dataplane.Programmer.Trigger).
	Trigger func()
	Prober  probe.Prober
	// HostAddresses lists the host's own addresses (the VIP link
	// excluded), which the firewall needs as Desired.NodeAddresses to
	// recognise the node's own traffic. Nil leaves them empty.
	HostAddresses func() ([]netip.Addr, error)
	Clock         runner.Clock
	// Rand is the health checks' jitter source (see probe.Deps).
	Rand    func() float64
	Metrics *Metrics
	Log     *zap.Logger
	// Announce, when set, is told after every sync which VIPs may be
	// announced over BGP (AnnouncedVIPs): first after a sync that
	// programmed everything, then after each sync, so a VIP whose last
	// healthy backend failed is withdrawn by the sync that health
	// transition triggers.
	Announce func(vips []netip.Addr)
	// Reloaded, when set, is handed each config a reload accepts (its
	// bgp: section has no place in the dataplane).
	Reloaded func(*config.Config)
	// Parser parses reloads. The one that parsed the content handed to
	// New remembers its services, so the first reload parses only what
	// it changes; nil starts one with no memory.
	Parser *config.Parser
}

// Source feeds the programmer from the config file and the backends'
// health. It implements dataplane.Source.
type Source struct {
	opts    Options
	deps    Deps
	log     *zap.Logger
	monitor *probe.Monitor
	metrics *Metrics

	dirty dirtySet

	mu      sync.Mutex
	cfg     *config.Config
	byName  map[string]*config.Service
	content []byte
	tr      *Translator
	sent    sentState
	// conflicts are the virtual servers the last sync found held by
	// another program.
	conflicts map[ipvs.Key]bool

	// announcing: a sync has programmed everything once (Programmed).
	announcing bool
	// checksUpdated is what the last reload did to the health checks.
	checksUpdated probe.Counts
}

// New builds a source for cfg, the validated content of the config file
// (content is its bytes, so an identical reload is recognised). Health
// checks start with Run.
func New(opts Options, deps Deps, cfg *config.Config, content []byte) (*Source, error) {
	if deps.Trigger == nil || deps.Prober == nil {
		return nil, errors.New("standalone: a trigger and a prober are required")
	}
	if opts.WatchInterval == 0 {
		opts.WatchInterval = time.Second
	}
	if deps.Clock == nil {
		deps.Clock = runner.RealClock{}
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if deps.Parser == nil {
		deps.Parser = config.NewParser()
	}
	s := &Source{opts: opts, deps: deps, log: deps.Log, metrics: deps.Metrics, cfg: cfg,
		content: content, tr: NewTranslator(), sent: newSentState()}
	s.dirty.markAll()
	s.monitor = probe.New(probe.Deps{
		Prober: deps.Prober, Clock: deps.Clock, Rand: deps.Rand, Log: deps.Log,
		Hooks: probe.Hooks{
			Checked: func(id probe.ID, err error, _ time.Duration) { s.metrics.observeCheck(id, err) },
			Changed: func(id probe.ID, st probe.Status) {
				s.metrics.observeTransition(id, st.Up)
				s.dirty.mark(id.Service)
				deps.Trigger()
			},
		},
	})
	s.mu.Lock()
	s.applyLocked(cfg)
	s.mu.Unlock()
	return s, nil
}

// Run checks the backends and watches the file until ctx is done. reload
// delivers SIGHUPs (or any other request to re-read the file).
func (s *Source) Run(ctx context.Context, reload <-chan struct{}) {
	defer s.monitor.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.opts.WatchInterval > 0 && s.opts.ConfigPath != "" {
		w := newWatcher(s.opts.ConfigPath, s.opts.WatchInterval, s.deps.Clock, s.log, s.content, func(content []byte) {
			// The very content the watcher saw stay the same, not a
			// re-read that could catch the next write. A rejection is
			// logged and counted by ReloadContent.
			_ = s.ReloadContent("file changed", content)
		})
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx) }()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			s.Reload("SIGHUP")
		}
	}
}

// Reload reads the config file again. An invalid file (an empty one
// included) is rejected with every problem logged, and the running config
// stays untouched. It returns the error that rejected the file, if any.
func (s *Source) Reload(why string) error {
	content, err := config.ReadFile(s.opts.ConfigPath)
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		s.log.Error("config reload failed; keeping the running config", zap.String("trigger", why), zap.Error(err))
		return err
	}
	return s.ReloadContent(why, content)
}

// ReloadContent is Reload for content already read.
func (s *Source) ReloadContent(why string, content []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Compared byte for byte, as the watcher does: cheaper than a hash.
	if bytes.Equal(content, s.content) {
		s.log.Info("config unchanged", zap.String("trigger", why))
		return nil
	}
	// The parser parses only the services whose text changed: a
	// one-line edit of a 10,000-service file costs one service.
	cfg, err := s.deps.Parser.Parse(content)
	if err == nil && cfg.Interface != s.cfg.Interface {
		err = fmt.Errorf("interface: changing %s to %s needs a restart", s.cfg.Interface, cfg.Interface)
	}
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		s.log.Error("config rejected; keeping the running config", zap.String("trigger", why),
			zap.String("path", s.opts.ConfigPath), zap.Error(err))
		return err
	}
	s.metrics.reloads.WithLabelValues("ok").Inc()
	delta, changed := Changes(s.cfg, cfg)
	s.log.Info("config reloaded", append([]zap.Field{zap.String("trigger", why), zap.Int("services", len(cfg.Services)),
		zap.Int("servicesParsed", s.deps.Parser.Stats().Parsed)}, delta.fields()...)...)
	s.dirty.mark(changed...)
	old := s.byName
	s.cfg, s.content = cfg, content
	s.applyChangedLocked(old, changed)
	if keysMoved(old, s.byName, changed) {
		// The VIP set is sent again, and diffed by the reconciler, only
		// when a service came, went or moved: both are O(services).
		s.dirty.markAddresses()
	}
	if s.deps.Reloaded != nil {
		s.deps.Reloaded(cfg)
	}
	s.deps.Trigger()
	return nil
}

// applyLocked points the health checks at every backend of cfg.
func (s *Source) applyLocked(cfg *config.Config) {
	s.indexLocked(cfg)
	s.monitor.Update(Targets(cfg))
	s.metrics.setTargets(s.monitor.Statuses())
}

// applyChangedLocked points the health checks and their metrics at the
// backends of the changed services of the new s.cfg (old indexes the
// config it replaced), leaving every other service's alone: a reload of
// one service of 10,000 with checks costs that service's targets.
func (s *Source) applyChangedLocked(old map[string]*config.Service, changed []string) {
	s.indexLocked(s.cfg)
	var targets []probe.Target
	var gone []probe.ID
	for _, name := range changed {
		if o := old[name]; o != nil {
			for _, t := range serviceTargets(o) {
				gone = append(gone, t.ID)
			}
		}
		if svc := s.byName[name]; svc != nil {
			targets = append(targets, serviceTargets(svc)...)
		}
	}
	s.checksUpdated = s.monitor.UpdateServices(changed, targets)
	st := make(map[probe.ID]probe.Status, len(targets))
	for _, t := range targets {
		if status, ok := s.monitor.Status(t.ID); ok {
			st[t.ID] = status
		}
	}
	s.metrics.replaceTargets(gone, st)
}

// keysMoved reports whether one of the changed services is new, gone or
// on another virtual server, which is what can change the VIP set.
func keysMoved(old, cur map[string]*config.Service, changed []string) bool {
	for _, name := range changed {
		o, s := old[name], cur[name]
		if o == nil || s == nil || o.Key() != s.Key() {
			return true
		}
	}
	return false
}

func (s *Source) indexLocked(cfg *config.Config) {
	s.byName = make(map[string]*config.Service, len(cfg.Services))
	for i := range cfg.Services {
		s.byName[cfg.Services[i].Name] = &cfg.Services[i]
	}
}

// Targets lists the health-checked backends of cfg.
func Targets(cfg *config.Config) []probe.Target {
	var out []probe.Target
	for i := range cfg.Services {
		out = append(out, serviceTargets(&cfg.Services[i])...)
	}
	return out
}

// serviceTargets lists s's health-checked backends.
func serviceTargets(s *config.Service) []probe.Target {
	hc := s.HealthCheck
	if hc == nil {
		return nil
	}
	spec := probe.Spec{
		Type: hc.Type, Port: uint16(hc.Port), Path: hc.Path, Host: hc.Host, ExpectStatus: hc.ExpectStatus,
		Interval: hc.IntervalDuration(), Timeout: hc.TimeoutDuration(), Rise: hc.Rise, Fall: hc.Fall,
	}
	out := make([]probe.Target, 0, len(s.Backends))
	for j := range s.Backends {
		out = append(out, probe.Target{ID: probe.ID{Service: s.Name, Backend: s.Backends[j].AddrPort()}, Spec: spec})
	}
	return out
}

// Changes translates what changed since the last call: the services a
// reload changed and those whose backends' health changed, so a one-line
// edit of a 10,000-service file, or one backend going down, costs one
// service's translation and writes. A full sync (and the first)
// translates the whole config, which the reconciler compares with the
// kernel. The host's addresses are listed on every call, as they come and
// go (DHCP, a new link) without the config changing; a failed listing is
// reported but does not hold back the rest.
func (s *Source) Changes(_ context.Context, full bool) (dataplane.Change, error) {
	names, all, addrs := s.dirty.take()
	s.mu.Lock()
	up := s.upFunc(full || all)
	var ch dataplane.Change
	if full || all {
		want := s.translateAllLocked(up)
		ch.Whole = &want
		ch.Firewall = s.sent.firewallUpdate(s.cfg, nil, true)
	} else {
		ch.Update = s.translateLocked(names, addrs, up)
		ch.Firewall = s.sent.firewallUpdate(s.cfg, names, false)
	}
	ch.Failover = failoverWanted(s.cfg)
	notes := s.sent.allNotes(s.cfg)
	s.mu.Unlock()
	s.metrics.setNotes(notes)
	var err error
	if s.deps.HostAddresses != nil {
		addrs, lerr := s.deps.HostAddresses()
		if lerr != nil {
			err = fmt.Errorf("listing host addresses: %w", lerr)
		}
		ch.Firewall.Options.NodeAddresses = firewall.SortedAddrs(addrs)
	}
	return ch, err
}

// failoverWanted is what the config asks of the host so that flows can
// move between directors. It goes with every change (two daemons at most,
// compared at no cost), so a reload that edits only the sync: section is
// applied like any other.
func failoverWanted(cfg *config.Config) *failover.Desired {
	tcp, sctp := cfg.Sloppy()
	return &failover.Desired{Daemons: cfg.SyncDaemons(), SloppyTCP: tcp, SloppySCTP: sctp}
}

// upFunc reports the backends' health: from one snapshot of every status
// when the whole config is translated, else one target at a time.
func (s *Source) upFunc(whole bool) UpFunc {
	if whole {
		statuses := s.monitor.Statuses()
		return func(id probe.ID) bool {
			st, ok := statuses[id]
			return !ok || st.Up
		}
	}
	return func(id probe.ID) bool {
		st, ok := s.monitor.Status(id)
		return !ok || st.Up
	}
}

// translateAllLocked translates every service, replacing what was sent.
func (s *Source) translateAllLocked(up UpFunc) desired.State {
	s.sent = newSentState()
	return s.tr.translateAll(s.cfg, up, &s.sent)
}

// translateLocked translates the named services alone: each one still in
// the config is set (its old key deleted if an edit moved it), each one
// gone is deleted.
func (s *Source) translateLocked(names []string, addrs bool, up UpFunc) desired.Update {
	var u desired.Update
	for _, name := range names {
		svc, ok := s.byName[name]
		if !ok {
			if key, had := s.sent.forget(name); had {
				u.Delete = append(u.Delete, key)
			}
			s.tr.Forget(name)
			continue
		}
		tr := s.tr.Service(svc, up)
		if old, moved := s.sent.record(name, tr); moved {
			u.Delete = append(u.Delete, old)
		}
		u.Set = append(u.Set, tr.VS)
	}
	if addrs {
		u.Addresses, u.SetAddresses = addresses(s.cfg), true
	}
	return u
}

// Programmed implements dataplane.Source: it tells Deps.Announce what may
// be announced. The first announcement waits for a sync without error,
// one that programmed every service: a director must not attract
// traffic for VIPs its kernel does not serve yet. After that every sync
// updates it, errors or not, so a withdrawal never waits.
func (s *Source) Programmed(err error) error {
	if s.deps.Announce == nil || (err != nil && !s.announcing) {
		return nil
	}
	s.announcing = true
	s.mu.Lock()
	if s.cfg.BGP == nil {
		// Nothing to announce to: spare every sync the walk over all
		// services (a reload adding bgp: triggers a sync of its own).
		s.mu.Unlock()
		return nil
	}
	vips := AnnouncedVIPs(s.cfg, s.upFunc(true), s.conflicts)
	s.mu.Unlock()
	s.deps.Announce(vips)
	return nil
}

// Conflicts implements dataplane.ConflictReporter: a service someone
// else holds in the kernel is not announced.
func (s *Source) Conflicts(keys []ipvs.Key) {
	m := make(map[ipvs.Key]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	s.mu.Lock()
	s.conflicts = m
	s.mu.Unlock()
}

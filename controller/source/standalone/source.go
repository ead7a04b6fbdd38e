package standalone

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
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
}

// Source feeds the programmer from the config file and the backends'
// health. It implements dataplane.Source.
type Source struct {
	opts    Options
	deps    Deps
	log     *zap.Logger
	monitor *probe.Monitor
	metrics *Metrics

	mu      sync.Mutex
	cfg     *config.Config
	sum     [sha256.Size]byte
	content []byte
	tr      *Translator
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
	s := &Source{opts: opts, deps: deps, log: deps.Log, metrics: deps.Metrics, cfg: cfg,
		sum: sha256.Sum256(content), content: content, tr: NewTranslator()}
	s.monitor = probe.New(probe.Deps{
		Prober: deps.Prober, Clock: deps.Clock, Rand: deps.Rand, Log: deps.Log,
		Hooks: probe.Hooks{
			Checked: func(id probe.ID, err error, _ time.Duration) { s.metrics.observeCheck(id, err) },
			Changed: func(id probe.ID, st probe.Status) {
				s.metrics.observeTransition(id, st.Up)
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
	sum := sha256.Sum256(content)
	if sum == s.sum {
		s.log.Info("config unchanged", zap.String("trigger", why))
		return nil
	}
	cfg, err := config.Parse(content)
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
	s.log.Info("config reloaded", append([]zap.Field{zap.String("trigger", why), zap.Int("services", len(cfg.Services))},
		Compare(s.cfg, cfg).fields()...)...)
	s.cfg, s.sum, s.content = cfg, sum, content
	s.applyLocked(cfg)
	s.deps.Trigger()
	return nil
}

// applyLocked points the health checks at cfg's backends.
func (s *Source) applyLocked(cfg *config.Config) {
	s.monitor.Update(Targets(cfg))
	s.metrics.setTargets(s.monitor.Statuses())
}

// Targets lists the health-checked backends of cfg.
func Targets(cfg *config.Config) []probe.Target {
	var out []probe.Target
	for i := range cfg.Services {
		s := &cfg.Services[i]
		hc := s.HealthCheck
		if hc == nil {
			continue
		}
		spec := probe.Spec{
			Type: hc.Type, Port: uint16(hc.Port), Path: hc.Path, Host: hc.Host, ExpectStatus: hc.ExpectStatus,
			Interval: hc.IntervalDuration(), Timeout: hc.TimeoutDuration(), Rise: hc.Rise, Fall: hc.Fall,
		}
		for j := range s.Backends {
			out = append(out, probe.Target{ID: probe.ID{Service: s.Name, Backend: s.Backends[j].AddrPort()}, Spec: spec})
		}
	}
	return out
}

// Changes translates the whole config with the backends' current health:
// the file is small next to what the reconciler does with it, and the
// reconciler writes only what differs. The host's addresses are listed
// on every call, as they come and go (DHCP, a new link) without the
// config changing; a failed listing is reported but does not hold back
// the rest.
func (s *Source) Changes(context.Context, bool) (dataplane.Change, error) {
	statuses := s.monitor.Statuses()
	s.mu.Lock()
	want, fwd, notes := s.tr.Translate(s.cfg, func(id probe.ID) bool {
		st, ok := statuses[id]
		return !ok || st.Up
	})
	s.mu.Unlock()
	s.metrics.setNotes(notes)
	var err error
	if s.deps.HostAddresses != nil {
		addrs, lerr := s.deps.HostAddresses()
		if lerr != nil {
			err = fmt.Errorf("listing host addresses: %w", lerr)
		}
		fwd.NodeAddresses = firewall.SortedAddrs(addrs)
	}
	return dataplane.Change{Whole: &want, Firewall: fwd}, err
}

// Programmed implements dataplane.Source; the file has nothing to report.
func (s *Source) Programmed(error) error { return nil }

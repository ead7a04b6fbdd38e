package standalone

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
)

// Reconciler is what the daemon needs of reconciler.Reconciler.
type Reconciler interface {
	Sync(ctx context.Context, d desired.State) (reconciler.Result, error)
}

// Firewall is what the daemon needs of firewall.Firewall.
type Firewall interface {
	Sync(ctx context.Context, d firewall.Desired) (firewall.Result, error)
	Check(ctx context.Context, d firewall.Desired) (firewall.Result, error)
}

// Options tune the daemon; zero values take defaults.
type Options struct {
	// ConfigPath is the file reloaded on SIGHUP and when it changes.
	ConfigPath string
	// WatchInterval is how often the file is polled (default 1 s; negative
	// disables polling, leaving SIGHUP).
	WatchInterval time.Duration
	// Runner paces syncs; its MinInterval defaults to 1 s here, so a burst
	// of health-check transitions costs one sync.
	Runner runner.Config
}

// Deps are the daemon's collaborators.
type Deps struct {
	Reconciler Reconciler
	// OpenFirewall opens the firewall the first time a NAT service needs
	// it, so hosts with only DR and TUN services need no iptables at all.
	// Nil means the firewall is not managed (--iptables-mode none).
	OpenFirewall func(ctx context.Context) (Firewall, error)
	Prober       probe.Prober
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

// Daemon runs standalone mode.
type Daemon struct {
	opts    Options
	deps    Deps
	log     *zap.Logger
	monitor *probe.Monitor
	runner  *runner.Runner
	metrics *Metrics

	mu      sync.Mutex
	cfg     *config.Config
	sum     [sha256.Size]byte
	content []byte
	tr      *Translator
	// fw is nil until a NAT service needs it; it and fwChecked are used
	// only by sync, which the runner never runs concurrently.
	fw        Firewall
	fwChecked time.Time
}

// New builds a daemon running cfg, the validated content of the config
// file (content is its bytes, so an identical reload is recognised).
func New(opts Options, deps Deps, cfg *config.Config, content []byte) (*Daemon, error) {
	if deps.Reconciler == nil || deps.Prober == nil {
		return nil, errors.New("standalone: a reconciler and a prober are required")
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
		deps.Metrics = NewMetrics(nil, nil)
	}
	d := &Daemon{opts: opts, deps: deps, log: deps.Log, metrics: deps.Metrics, cfg: cfg,
		sum: sha256.Sum256(content), content: content, tr: NewTranslator()}
	if opts.Runner.MinInterval == 0 {
		opts.Runner.MinInterval = time.Second
	}
	r, err := runner.New(opts.Runner, d.sync, deps.Clock, deps.Log)
	if err != nil {
		return nil, err
	}
	d.runner = r
	d.monitor = probe.New(probe.Deps{
		Prober: deps.Prober, Clock: deps.Clock, Rand: deps.Rand, Log: deps.Log,
		Hooks: probe.Hooks{
			Checked: func(id probe.ID, err error, _ time.Duration) { d.metrics.observeCheck(id, err) },
			Changed: func(id probe.ID, st probe.Status) {
				d.metrics.observeTransition(id, st.Up)
				d.runner.Trigger()
			},
		},
	})
	return d, nil
}

// Run syncs, checks and watches until ctx is done, then returns without
// touching the kernel: virtual servers, VIPs and firewall rules stay as
// they are, so a restart or an upgrade drops no connection. reload
// delivers SIGHUPs (or any other request to re-read the file).
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	d.mu.Lock()
	d.applyLocked(d.cfg)
	d.mu.Unlock()
	defer d.monitor.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d.opts.WatchInterval > 0 && d.opts.ConfigPath != "" {
		w := newWatcher(d.opts.ConfigPath, d.opts.WatchInterval, d.deps.Clock, d.log, d.content, func() {
			d.Reload("file changed")
		})
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
				d.Reload("SIGHUP")
			}
		}
	}()
	err := d.runner.Run(ctx)
	d.log.Info("stopping; kernel state left in place")
	return err
}

// Reload reads the config file again. An invalid file is rejected with
// every problem logged, and the running config stays untouched. It returns
// the error that rejected the file, if any.
func (d *Daemon) Reload(why string) error {
	content, err := os.ReadFile(d.opts.ConfigPath)
	if err != nil {
		d.metrics.reloads.WithLabelValues("error").Inc()
		d.log.Error("config reload failed; keeping the running config", zap.String("trigger", why), zap.Error(err))
		return err
	}
	return d.ReloadContent(why, content)
}

// ReloadContent is Reload for content already read.
func (d *Daemon) ReloadContent(why string, content []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	sum := sha256.Sum256(content)
	if sum == d.sum {
		d.log.Info("config unchanged", zap.String("trigger", why))
		return nil
	}
	cfg, err := config.Parse(content)
	if err == nil && cfg.Interface != d.cfg.Interface {
		err = fmt.Errorf("interface: changing %s to %s needs a restart", d.cfg.Interface, cfg.Interface)
	}
	if err != nil {
		d.metrics.reloads.WithLabelValues("error").Inc()
		d.log.Error("config rejected; keeping the running config", zap.String("trigger", why),
			zap.String("path", d.opts.ConfigPath), zap.Error(err))
		return err
	}
	d.metrics.reloads.WithLabelValues("ok").Inc()
	d.log.Info("config reloaded", zap.String("trigger", why), zap.Int("services", len(cfg.Services)))
	d.cfg, d.sum, d.content = cfg, sum, content
	d.applyLocked(cfg)
	d.runner.Trigger()
	return nil
}

// applyLocked points the health checks at cfg's backends.
func (d *Daemon) applyLocked(cfg *config.Config) {
	d.monitor.Update(Targets(cfg))
	d.metrics.setTargets(d.monitor.Statuses())
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

// sync is the runner's SyncFunc: translate, then the firewall, then IPVS.
// The firewall goes first so that a new NAT service is masqueraded from
// its first connection: rules that appear under established connections
// make conntrack pick them up mid-stream as new, and masquerading such a
// connection half-way resets it.
func (d *Daemon) sync(ctx context.Context) (time.Duration, error) {
	start := d.deps.Clock.Now()
	statuses := d.monitor.Statuses()
	d.mu.Lock()
	want, fwd, notes := d.tr.Translate(d.cfg, func(id probe.ID) bool {
		st, ok := statuses[id]
		return !ok || st.Up
	})
	d.mu.Unlock()
	d.metrics.setNotes(notes)

	var err error
	if ferr := d.syncFirewall(ctx, fwd, start); ferr != nil {
		err = fmt.Errorf("firewall: %w", ferr)
	}
	res, rerr := d.deps.Reconciler.Sync(ctx, want)
	err = errors.Join(err, rerr)
	d.metrics.observeSync(d.deps.Clock.Now().Sub(start), err)
	return res.RequeueAfter, err
}

// firewallCheckInterval is how often the firewall's sets are compared with
// the kernel rather than with what was last applied, repairing entries or
// sets removed by hand (as the reconciler's full resync does for IPVS).
const firewallCheckInterval = time.Minute

// syncFirewall applies the firewall state once any NAT service exists;
// after that it keeps it applied (an empty state removes our set entries
// but keeps the constant rules).
func (d *Daemon) syncFirewall(ctx context.Context, fwd firewall.Desired, now time.Time) error {
	if d.fw == nil {
		if len(fwd.Services) == 0 || d.deps.OpenFirewall == nil {
			return nil
		}
		fw, err := d.deps.OpenFirewall(ctx)
		if err != nil {
			return fmt.Errorf("opening: %w", err)
		}
		d.fw = fw
	}
	// Listed on every sync: addresses come and go (DHCP, a new link)
	// without the config changing. A failure still syncs the rest, and
	// its error makes the runner retry.
	var addrErr error
	if d.deps.HostAddresses != nil {
		addrs, err := d.deps.HostAddresses()
		if err != nil {
			addrErr = fmt.Errorf("listing host addresses: %w", err)
		}
		fwd.NodeAddresses = sortedAddrs(addrs)
	}
	if now.Sub(d.fwChecked) >= firewallCheckInterval {
		if _, err := d.fw.Check(ctx, fwd); err != nil {
			return errors.Join(addrErr, err)
		}
		d.fwChecked = now
		return addrErr
	}
	_, err := d.fw.Sync(ctx, fwd)
	return errors.Join(addrErr, err)
}

// sortedAddrs unmaps, sorts and de-duplicates, so that an unchanged host
// yields an identical firewall state.
func sortedAddrs(in []netip.Addr) []netip.Addr {
	if len(in) == 0 {
		return nil
	}
	out := make([]netip.Addr, 0, len(in))
	for _, a := range in {
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

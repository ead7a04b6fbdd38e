package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/failover"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/kernelsettings"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/internal/httpserve"
	"github.com/ipvsd/ipvsd/ipvs"
)

// plane is the dataplane both daemon modes run: the host opened through
// hostenv, the reconciler on it, the programmer that drives both and the
// firewall, and the metrics of all three. Only the source feeding it
// differs between `run` and `standalone`.
type plane struct {
	env     *hostenv.Env
	engine  *reconciler.Reconciler
	metrics *dataplane.Metrics
	prog    *dataplane.Programmer
}

// planeOptions are what the two modes set differently.
type planeOptions struct {
	host       hostenv.Options
	reconciler reconciler.Config
	programmer dataplane.Config
	// openFirewall is nil when the firewall is left alone.
	openFirewall func(context.Context) (dataplane.Firewall, error)
	// statsLabels and ownerLabels label the per-virtual-server series.
	statsLabels []string
	ownerLabels func(owner string) []string
	// settings are node-wide kernel settings kept at each full resync;
	// nil keeps none.
	settings *kernelsettings.Settings
	// failover keeps the source's sync daemons and sloppy modes
	// (standalone mode), recording the daemons ipvsd starts beside the
	// ownership record.
	failover bool
	// settled is called once the cold start is programmed (nil: nothing).
	settled func()
}

// reconcilerBackstopResync is the reconciler's own full-resync interval
// under the programmer, which requests every full resync itself.
const reconcilerBackstopResync = 24 * time.Hour

func openPlane(o planeOptions, log *zap.Logger) (*plane, error) {
	env, err := hostenv.Open(o.host, log)
	if err != nil {
		return nil, err
	}
	// The programmer decides when a sync is a full resync and asks the
	// reconciler to dump then, so a change is never held behind a dump it
	// did not ask for; the reconciler's own schedule is only a backstop.
	rc := o.reconciler
	rc.FullResyncInterval = reconcilerBackstopResync
	engine, err := reconciler.New(rc, env.Deps(log))
	if err != nil {
		env.Close()
		return nil, err
	}
	// Scrapes read the counters on the dump handle: at 10,000 virtual
	// servers one takes seconds under emulation, and on the writers'
	// handle every change would wait for it.
	var counters ipvs.CounterReader = env.IPVS
	if env.IPVSDump != nil {
		counters = env.IPVSDump
	}
	m := dataplane.NewMetrics(dataplane.StatsConfig{
		Kernel: counters, Owned: engine.OwnedServices,
		Labels: o.statsLabels, OwnerLabels: o.ownerLabels,
	}, nil)
	m.Registry.MustRegister(netlinkWrites(env.IPVS))
	deps := dataplane.Deps{IPVS: engine, OpenFirewall: o.openFirewall, Metrics: m, Settled: o.settled, Log: log}
	if o.settings != nil {
		deps.Settings = kernelsettings.New(*o.settings, kernelsettings.Deps{IPVS: env.IPVS, Log: log.Named("kernel")})
	}
	if o.failover {
		// In the programmer's loop, not beside it: the daemons are desired
		// state from the same file as the virtual servers, reloaded and
		// repaired at each full resync with them, and a backup's copied
		// connections want their virtual servers programmed first.
		deps.Failover = failover.New(failover.Deps{
			Daemons: env.IPVS, Record: runstate.SyncDaemonStore{Path: runstate.SyncDaemonsPath(rc.RecordPath)},
			ProcSys: o.host.SysctlRoot, Log: log.Named("failover"),
		})
		m.Registry.MustRegister(failover.NewCollector(env.IPVS))
	}
	prog, err := dataplane.New(o.programmer, deps)
	if err != nil {
		env.Close()
		return nil, err
	}
	return &plane{env: env, engine: engine, metrics: m, prog: prog}, nil
}

// netlinkWrites exports the IPVS handle's count of write requests, so
// writes per change can be read from outside (make bench-report does).
func netlinkWrites(h interface{ Writes() uint64 }) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "ipvsd_ipvs_netlink_writes_total",
		Help: "IPVS netlink write requests sent (virtual and real servers added, updated or deleted), failed ones included.",
	}, func() float64 { return float64(h.Writes()) })
}

func (p *plane) Close() error { return p.env.Close() }

// firewallOpener turns an --iptables-mode value into the programmer's
// opener: nil for "none", which leaves the firewall alone.
func firewallOpener(mode string, log *zap.Logger) (func(context.Context) (dataplane.Firewall, error), error) {
	if mode == "none" {
		return nil, nil
	}
	m, err := firewall.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (dataplane.Firewall, error) {
		return firewall.New(ctx, log.Named("firewall"), firewall.Config{Mode: m})
	}, nil
}

// endpoint is one HTTP listener: addr "" is off; routes map paths to
// handlers.
type endpoint struct {
	addr   string
	routes map[string]http.Handler
}

// retryListen is how often a soft endpoint tries to listen again.
var retryListen = 5 * time.Second

// serveAll starts every endpoint that has an address. The servers run
// until ctx is done or stop is called; stop shuts them down and returns
// their errors. If one endpoint cannot start, those already started are
// stopped before the error is returned.
func serveAll(ctx context.Context, log *zap.Logger, eps []endpoint) (stop func() error, err error) {
	return serve(ctx, log, eps, false)
}

// serveAllRetrying is serveAll where an endpoint that cannot listen is
// logged and tried again every retryListen instead of failing the start
// (kube-proxy without bindAddressHardFail): the proxy matters more than
// its probes.
func serveAllRetrying(ctx context.Context, log *zap.Logger, eps []endpoint) (stop func() error, err error) {
	return serve(ctx, log, eps, true)
}

func serve(ctx context.Context, log *zap.Logger, eps []endpoint, soft bool) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var waits []func() error
	stop = func() error {
		cancel()
		var errs []error
		for _, w := range waits {
			errs = append(errs, w())
		}
		return errors.Join(errs...)
	}
	for _, e := range eps {
		if e.addr == "" {
			continue
		}
		mux := http.NewServeMux()
		for path, h := range e.routes {
			mux.Handle(path, h)
		}
		addr, w, err := httpserve.Serve(ctx, e.addr, mux)
		switch {
		case err != nil && soft:
			log.Error("cannot serve; trying again every 5 s (bindAddressHardFail makes this fatal)", zap.String("address", e.addr), zap.Error(err))
			waits = append(waits, serveRetrying(ctx, log, e.addr, mux))
			continue
		case err != nil:
			return nil, errors.Join(fmt.Errorf("serving on %s: %w", e.addr, err), stop())
		}
		log.Info("serving", zap.Stringer("address", addr))
		waits = append(waits, w)
	}
	return stop, nil
}

// serveRetrying tries to listen on addr every retryListen until it can or
// ctx is done; the returned wait blocks until the server has stopped.
func serveRetrying(ctx context.Context, log *zap.Logger, addr string, h http.Handler) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		t := time.NewTicker(retryListen)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-t.C:
			}
			bound, w, err := httpserve.Serve(ctx, addr, h)
			if err == nil {
				log.Info("serving", zap.Stringer("address", bound))
				done <- w()
				return
			}
		}
	}()
	return func() error { return <-done }
}

// healthMaxAge is how long /healthz stays 200 after the last successful
// sync: two full-resync periods, so a daemon that keeps retrying stays up
// through a short outage.
func healthMaxAge(fullResync time.Duration) time.Duration {
	if fullResync <= 0 {
		fullResync = dataplane.DefaultFullResyncInterval
	}
	return 2 * fullResync
}

// addProfiling adds Go's profiler under /debug/pprof/ (kube-proxy's
// enableProfiling), for CPU and heap profiles of the running daemon.
func addProfiling(routes map[string]http.Handler) {
	routes["/debug/pprof/"] = http.HandlerFunc(pprof.Index)
	routes["/debug/pprof/cmdline"] = http.HandlerFunc(pprof.Cmdline)
	routes["/debug/pprof/profile"] = http.HandlerFunc(pprof.Profile)
	routes["/debug/pprof/symbol"] = http.HandlerFunc(pprof.Symbol)
	routes["/debug/pprof/trace"] = http.HandlerFunc(pprof.Trace)
}

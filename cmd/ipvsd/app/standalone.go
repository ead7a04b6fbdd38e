package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ipvsd/ipvsd/controller/bgp"
	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/controller/source/standalone"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/internal/gcpace"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// DefaultMetricsAddr serves /metrics and /healthz on loopback only: the
// metrics name every backend, which is nobody else's business by default.
const DefaultMetricsAddr = "127.0.0.1:9578"

type standaloneFlags struct {
	config        string
	check         bool
	metricsAddr   string
	profileAddr   string
	record        string
	iptablesMode  string
	logLevel      string
	watchInterval time.Duration
}

func newStandalone() *cobra.Command {
	var f standaloneFlags
	cmd := &cobra.Command{
		Use:   "standalone --config FILE",
		Short: "Run IPVS from a YAML file, with health checks (bare-metal hosts)",
		Long: `standalone programs IPVS from a YAML file (see examples/standalone.yaml):
virtual servers, their backends, health checks. It reloads the file on
SIGHUP or when it changes (once it has stayed the same for a whole
--watch-interval: replace it atomically, by writing a new file and renaming
it over the old); an invalid file, an empty one included, is rejected and
the running config kept. SIGTERM stops ipvsd and leaves the kernel state in place, so a
restart drops no connection; "ipvsd cleanup" removes what ipvsd created.

With a bgp: section it announces the VIP of each service that has healthy
backends to the peers named there, and withdraws it when none has; on
SIGTERM the peers that negotiated graceful restart keep the routes for
their restart time. "ipvsd status" shows the sessions and the routes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.check {
				return checkConfig(cmd.OutOrStdout(), f)
			}
			if err := f.validate(); err != nil {
				return err
			}
			return runStandalone(cmd.Context(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "the YAML config file (required)")
	fl.BoolVar(&f.check, "check", false, "validate the config file and the other flags, and exit (0: valid, 1: invalid)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", DefaultMetricsAddr, "address serving /metrics and /healthz (empty: none)")
	fl.StringVar(&f.profileAddr, "profile-addr", "", "loopback address serving Go's profiler under /debug/pprof/, for CPU and heap profiles of the daemon (empty: none)")
	fl.StringVar(&f.record, "record", runstate.DefaultRecordPath, "the ownership record: what ipvsd created")
	fl.StringVar(&f.iptablesMode, "iptables-mode", "auto", "iptables back-end for NAT masquerading: auto, nft, legacy, or none to leave the firewall alone")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.DurationVar(&f.watchInterval, "watch-interval", time.Second,
		"how often the config file is checked for changes; a change is applied once it has stayed the same for one interval (0: only on SIGHUP)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// minWatchInterval keeps a typo (1ns) from turning the file watch into a
// busy loop.
const minWatchInterval = 10 * time.Millisecond

// validate checks every flag at once, before anything is opened, so that
// --check vouches for the command line as well as the file.
func (f standaloneFlags) validate() error {
	var errs []error
	if _, err := firewallOpener(f.iptablesMode, zap.NewNop()); err != nil {
		errs = append(errs, fmt.Errorf("--iptables-mode: %w", err))
	}
	if _, err := zapcore.ParseLevel(f.logLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if f.metricsAddr != "" {
		if _, port, err := net.SplitHostPort(f.metricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr: %w", err))
		} else if _, err := net.LookupPort("tcp", port); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr: %w", err))
		}
	}
	if err := checkProfileAddr(f.profileAddr); err != nil {
		errs = append(errs, fmt.Errorf("--profile-addr: %w", err))
	}
	if f.record == "" {
		errs = append(errs, errors.New("--record: must name a file"))
	}
	if f.watchInterval < 0 || (f.watchInterval > 0 && f.watchInterval < minWatchInterval) {
		errs = append(errs, fmt.Errorf("--watch-interval: must be 0 (only SIGHUP) or at least %s, not %s", minWatchInterval, f.watchInterval))
	}
	return errors.Join(errs...)
}

// checkProfileAddr accepts an empty address or a loopback host and port:
// a profile shows the config and every backend, and serving one costs CPU,
// so it is for someone already on the host.
func checkProfileAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if host == "localhost" || (err == nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("%s: must be a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", addr)
}

// checkConfig validates the flags and the file, reporting both.
func checkConfig(out io.Writer, f standaloneFlags) error {
	flagErr := f.validate()
	cfg, _, err := config.Load(f.config)
	if err := errors.Join(flagErr, err); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: valid, %d services\n", f.config, len(cfg.Services))
	return nil
}

func runStandalone(ctx context.Context, stderr io.Writer, f standaloneFlags) (err error) {
	log, err := cliLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// The profiler comes first, so a profile covers the start-up too:
	// reading a large file and the first dump of the kernel.
	profiling := map[string]http.Handler{}
	addProfiling(profiling)
	stopProfiling, err := serveAll(ctx, log, []endpoint{{f.profileAddr, profiling}})
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	defer func() { err = errors.Join(err, stopProfiling()) }()
	// As in Kubernetes mode: 307 MB peak RSS at 10,000 x 10 without.
	pacer := gcpace.Keep(ctx, gcpace.Default, os.Getenv, log.Named("gcpace"))
	openFW, err := firewallOpener(f.iptablesMode, log)
	if err != nil {
		return err
	}
	// Invalid at start-up is a non-zero exit before anything is touched.
	// The parser remembers the file's services for the reloads.
	parser := config.NewParser()
	cfg, content, err := parser.Load(f.config)
	if err != nil {
		return err
	}
	// So is a router ID that cannot be found.
	bgpCfg, err := bgpConfig(cfg.BGP, netlinkutil.FirstIPv4Toward)
	if err != nil {
		return err
	}
	p, err := openPlane(planeOptions{
		host:       hostenv.Options{Interface: cfg.Interface, SetSysctls: true},
		reconciler: reconciler.Config{RecordPath: f.record},
		// No fixed delay before a sync: a reload or a health transition is
		// programmed at once, and a burst arriving during a sync costs
		// one more.
		programmer:   dataplane.Config{FirewallOnDemand: true},
		openFirewall: openFW,
		statsLabels:  []string{"service"}, ownerLabels: func(owner string) []string { return []string{owner} },
		failover: true, settled: pacer.Settle,
	}, log)
	if err != nil {
		return err
	}
	defer p.Close()
	bgpp, err := newBGPPart(ctx, log, bgp.NewMetrics(p.metrics.Registry), bgpCfg)
	if err != nil {
		return err
	}
	src, err := standalone.New(standalone.Options{ConfigPath: f.config, WatchInterval: watchInterval(f.watchInterval)}, standalone.Deps{
		Trigger:       p.prog.Trigger,
		HostAddresses: p.env.HostAddresses,
		Prober:        probe.NetProber{Dialer: &net.Dialer{}},
		Metrics:       standalone.NewMetrics(p.metrics.Registry),
		Log:           log,
		Announce:      bgpp.announce,
		Reloaded:      bgpp.reloaded,
		Parser:        parser,
	}, cfg, content)
	if err != nil {
		return errors.Join(err, bgpp.stop(false))
	}
	stopHTTP, err := serveAll(ctx, log, []endpoint{{f.metricsAddr, map[string]http.Handler{
		"/metrics": p.metrics.MetricsHandler(), "/healthz": p.metrics.HealthzHandler(healthMaxAge(0)),
		"/status": bgpp.statusHandler(),
	}}})
	if err != nil {
		return errors.Join(fmt.Errorf("metrics: %w", err), bgpp.stop(false))
	}
	log.Info("standalone mode", zap.String("config", f.config), zap.Int("services", len(cfg.Services)),
		zap.Int("syncDaemons", len(cfg.SyncDaemons())),
		zap.String("interface", cfg.Interface), zap.String("record", f.record))
	runErr := runUntilDone(ctx, p.prog, src, sighups(ctx))
	// A stop asked for (SIGTERM) is a restart or an upgrade: graceful
	// restart keeps the routes where it was negotiated.
	return errors.Join(runErr, bgpp.stop(ctx.Err() != nil), stopHTTP())
}

// watchInterval is the source's WatchInterval for the flag's: 0 (no
// watch) is the source's -1.
func watchInterval(flag time.Duration) time.Duration {
	if flag == 0 {
		return -1
	}
	return flag
}

// runUntilDone runs the source's health checks and file watch beside the
// programmer, and stops both when ctx is done. The kernel state is left
// in place, so a restart or an upgrade drops no connection.
func runUntilDone(ctx context.Context, prog *dataplane.Programmer, src *standalone.Source, reload <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx, reload) }()
	err := prog.Run(ctx, src)
	cancel()
	<-done
	return err
}

// sighups delivers SIGHUP as reload requests until ctx is done; requests
// that arrive while one is pending coalesce.
func sighups(ctx context.Context) <-chan struct{} {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return reload
}

// cliLogger logs human-readable lines to stderr, which is what journald
// and an operator's terminal both want.
func cliLogger(w io.Writer, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeLevel = zapcore.CapitalLevelEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/controller/source/standalone"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/internal/httpserve"
	"github.com/ipvsd/ipvsd/ipvs"
)

// DefaultMetricsAddr serves /metrics and /healthz on loopback only: the
// metrics name every backend, which is nobody else's business by default.
const DefaultMetricsAddr = "127.0.0.1:9578"

type standaloneFlags struct {
	config        string
	check         bool
	metricsAddr   string
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
SIGHUP or when it changes; an invalid file is rejected and the running
config kept. SIGTERM stops ipvsd and leaves the kernel state in place, so a
restart drops no connection; "ipvsd cleanup" removes what ipvsd created.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.check {
				return checkConfig(cmd.OutOrStdout(), f.config)
			}
			return runStandalone(cmd.Context(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "the YAML config file (required)")
	fl.BoolVar(&f.check, "check", false, "validate the config file and exit (0: valid, 1: invalid)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", DefaultMetricsAddr, "address serving /metrics and /healthz (empty: none)")
	fl.StringVar(&f.record, "record", runstate.DefaultRecordPath, "the ownership record: what ipvsd created")
	fl.StringVar(&f.iptablesMode, "iptables-mode", "auto", "iptables back-end for NAT masquerading: auto, nft, legacy, or none to leave the firewall alone")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.DurationVar(&f.watchInterval, "watch-interval", time.Second, "how often the config file is checked for changes (0: only on SIGHUP)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func checkConfig(out io.Writer, path string) error {
	cfg, _, err := config.Load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: valid, %d services\n", path, len(cfg.Services))
	return nil
}

func runStandalone(ctx context.Context, stderr io.Writer, f standaloneFlags) error {
	log, err := cliLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	openFW, err := firewallOpener(f.iptablesMode, log)
	if err != nil {
		return err
	}
	// Invalid at start-up is a non-zero exit before anything is touched.
	cfg, content, err := config.Load(f.config)
	if err != nil {
		return err
	}
	env, err := hostenv.Open(hostenv.Options{Interface: cfg.Interface, SetSysctls: true}, log)
	if err != nil {
		return err
	}
	defer env.Close()
	rec, err := reconciler.New(reconciler.Config{RecordPath: f.record}, env.Deps(log))
	if err != nil {
		return err
	}
	metrics := standalone.NewMetrics(env.IPVS, func() map[ipvs.Key]string { return rec.Owned().Services })
	var waitMetrics func() error
	if f.metricsAddr != "" {
		addr, wait, err := httpserve.Serve(ctx, f.metricsAddr, metrics.Handler())
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		log.Info("serving metrics", zap.Stringer("address", addr))
		waitMetrics = wait
	}
	watch := f.watchInterval
	if watch == 0 {
		watch = -1
	}
	d, err := standalone.New(standalone.Options{ConfigPath: f.config, WatchInterval: watch}, standalone.Deps{
		Reconciler:    rec,
		OpenFirewall:  openFW,
		HostAddresses: env.HostAddresses,
		Prober:        probe.NetProber{Dialer: &net.Dialer{}},
		Metrics:       metrics,
		Log:           log,
	}, cfg, content)
	if err != nil {
		return err
	}
	log.Info("standalone mode", zap.String("config", f.config), zap.Int("services", len(cfg.Services)),
		zap.String("interface", cfg.Interface), zap.String("record", f.record))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
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
	err = d.Run(ctx, reload)
	if waitMetrics != nil {
		err = errors.Join(err, waitMetrics())
	}
	return err
}

// firewallOpener turns --iptables-mode into the daemon's lazy opener.
func firewallOpener(mode string, log *zap.Logger) (func(context.Context) (standalone.Firewall, error), error) {
	if mode == "none" {
		return nil, nil
	}
	m, err := firewall.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (standalone.Firewall, error) {
		return firewall.New(ctx, log.Named("firewall"), firewall.Config{Mode: m})
	}, nil
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

package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/go-logr/zapr"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	componentbaseconfig "k8s.io/component-base/config/v1alpha1"
	"k8s.io/component-base/metrics/legacyregistry"

	// Registers client-go's request metrics with component-base.
	_ "k8s.io/component-base/metrics/prometheus/restclient"
	"k8s.io/klog/v2"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/kernelsettings"
	"github.com/ipvsd/ipvsd/controller/kubeproxy"
	"github.com/ipvsd/ipvsd/controller/proxyconfig"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/controller/source/kube/healthcheck"
	"github.com/ipvsd/ipvsd/controller/source/kube/informer"
	"github.com/ipvsd/ipvsd/internal/gcpace"
)

// newRun is `ipvsd run`, the Kubernetes mode. Flags and the config file
// are defined and merged in runconfig.go.
func newRun() *cobra.Command {
	cfg := proxyconfig.Default()
	var configPath, writeConfigTo, logLevel string
	var takeOver bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Replace kube-proxy: program IPVS from Kubernetes Services and EndpointSlices",
		Long: `run watches this node's Node, all Services and EndpointSlices and programs
IPVS, the VIP dummy link and the firewall to match, like kube-proxy's IPVS
mode. --config reads kube-proxy's own KubeProxyConfiguration file (with
ipvsd's settings under a top-level ipvsd: key); the flags are kube-proxy's,
and flags given on the command line win over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadRunConfig(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			if writeConfigTo != "" {
				return writeRunConfig(c.Config, writeConfigTo)
			}
			log, err := cliLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			c.logConfig(log)
			// client-go logs through klog's global logger; route it into
			// ours so there is one log stream with one format.
			klog.SetLogger(zapr.NewLogger(log.Named("client-go")))
			return runKube(cmd.Context(), c.Config, takeOver, log)
		},
	}
	proxyconfig.BindFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&configPath, "config", "", "kube-proxy's configuration file (KubeProxyConfiguration, YAML); flags given on the command line win")
	cmd.Flags().StringVar(&writeConfigTo, "write-config-to", "", "write the effective configuration (defaults, file, flags) to this file and exit")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().BoolVar(&takeOver, "take-over-kube-proxy", false, "take over what kube-proxy's IPVS mode left on this node (stopped without cleanup): adopt its virtual servers in place, then remove its kube-ipvs0 link, KUBE-* chains and ipsets and the virtual servers no Service wants")
	return cmd
}

// runKube runs the Kubernetes mode until ctx is done; takeOver takes over
// kube-proxy's leftovers.
func runKube(ctx context.Context, cfg proxyconfig.Config, takeOver bool, log *zap.Logger) error {
	// Stops the informers too if the loop returns on its own.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Peak RSS is otherwise about twice the live state (GOGC=100): see
	// internal/gcpace. GOGC or GOMEMLIMIT in the environment wins.
	pacer := gcpace.Keep(ctx, gcpace.Default, os.Getenv, log.Named("gcpace"))
	if err := kernelsettings.SetOOMScoreAdj(kernelsettings.OOMScoreAdjPath, int(*cfg.OOMScoreAdj), log); err != nil {
		// As kube-proxy: a container without CAP_SYS_RESOURCE cannot
		// lower it, and the proxy runs all the same.
		log.Warn("cannot set oomScoreAdj", zap.Error(err))
	}
	nodeName, err := nodeName(cfg.HostnameOverride)
	if err != nil {
		return err
	}
	client, host, err := kubeClient(cfg.Master, cfg.ClientConnection)
	if err != nil {
		return err
	}
	// Opened before anything is programmed: a host whose iptables cannot
	// be driven is a start-up error, not a sync that retries forever.
	fw, err := firewall.New(ctx, log.Named("firewall"), firewall.Config{})
	if err != nil {
		return err
	}
	p, err := openKubePlane(cfg, fw, pacer.Settle, log)
	if err != nil {
		return err
	}
	defer p.Close()

	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(informer.EventSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")}, log))
	hc := healthcheck.New(log, "")
	defer hc.Close()
	src, err := kubeSource(cfg, nodeName, informer.Deps{
		Client: client, Trigger: p.prog.Trigger, Health: hc, Log: log,
		Recorder:      events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ipvsd", Host: nodeName}),
		Metrics:       informer.NewMetrics(p.metrics.Registry),
		HostAddresses: p.env.HostAddresses,
	})
	if err != nil {
		return err
	}
	stopHTTP, err := serveKube(ctx, cfg, p, src, log)
	if err != nil {
		return err
	}
	log.Info("starting", zap.String("node", nodeName), zap.String("apiServer", host))
	err = src.Start(ctx)
	var prog dataplane.Source = src
	if err == nil && takeOver {
		prog, err = takeOverKubeProxy(ctx, p, src, log.Named("takeover"))
	}
	if err == nil {
		err = p.prog.Run(ctx, prog)
	}
	return errors.Join(err, stopHTTP())
}

// takeOverKubeProxy finds kube-proxy's leftovers before the first sync
// and returns the source that removes them once ipvsd has programmed
// everything: the reconciler adopts kube-proxy's virtual servers that
// Services want, in place, and binds their VIPs to ipvsd's link.
func takeOverKubeProxy(ctx context.Context, p *plane, src *informer.Source, log *zap.Logger) (dataplane.Source, error) {
	left, err := findKubeProxy(ctx, p.env, []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}, log)
	if err != nil {
		return nil, err
	}
	p.engine.Adopt(left.adoptable())
	return newTakeOverSource(ctx, src, left, p.engine, log), nil
}

// openKubePlane opens the dataplane with the Kubernetes mode's settings:
// fw already open, kube-proxy's kernel settings kept at each resync.
// settled is called once the cold start is programmed.
func openKubePlane(cfg proxyconfig.Config, fw *firewall.Firewall, settled func(), log *zap.Logger) (*plane, error) {
	exclude, err := proxyconfig.ExcludeCIDRs(&cfg.KubeProxyConfiguration)
	if err != nil {
		return nil, err
	}
	settings := proxyconfig.KernelSettings(&cfg, kernelsettings.OnlineCPUs("/sys/devices/system/cpu/online"))
	return openPlane(planeOptions{
		// kube-ipvs0's addresses are kube-proxy's service VIPs, never
		// the node's (kube-proxy leaves them out of its node IPs too).
		host:         hostenv.Options{Interface: cfg.IPVSD.Interface, SetSysctls: true, ServiceLinks: []string{kubeproxy.LinkName}},
		reconciler:   reconciler.Config{RecordPath: cfg.IPVSD.RecordPath, ExcludeCIDRs: exclude},
		programmer:   dataplane.Config{MinSyncInterval: cfg.IPVS.MinSyncPeriod.Duration, FullResyncInterval: cfg.IPVS.SyncPeriod.Duration},
		openFirewall: func(context.Context) (dataplane.Firewall, error) { return fw, nil },
		statsLabels:  informer.StatsLabels, ownerLabels: informer.OwnerLabels,
		settings: &settings, settled: settled,
	}, log)
}

// serveKube serves /metrics on metricsBindAddress (with client-go's
// series, and the profiler if asked) and kube-proxy's /livez and /healthz
// on healthzBindAddress; without bindAddressHardFail a busy port is
// retried instead of failing the start.
func serveKube(ctx context.Context, cfg proxyconfig.Config, p *plane, src *informer.Source, log *zap.Logger) (stop func() error, err error) {
	health := informer.NewHealthHandlers(p.metrics, healthMaxAge(cfg.IPVS.SyncPeriod.Duration), src.NodeEligible, p.metrics.Registry)
	// client-go's rest_client_* series, as kube-proxy exports them
	// (component-base registers them on its global registry).
	p.metrics.AddGatherer(dataplane.PrefixGatherer(legacyregistry.DefaultGatherer, "rest_client_"))
	metricsRoutes := map[string]http.Handler{"/metrics": p.metrics.MetricsHandler()}
	if cfg.EnableProfiling {
		addProfiling(metricsRoutes)
	}
	serve := serveAllRetrying
	if cfg.BindAddressHardFail {
		serve = serveAll
	}
	return serve(ctx, log, []endpoint{
		{cfg.MetricsBindAddress, metricsRoutes},
		{cfg.HealthzBindAddress, map[string]http.Handler{"/healthz": health.Healthz, "/livez": health.Livez}},
	})
}

// kubeClient builds the API client from a kubeconfig file, or from the
// in-cluster configuration when it is empty, with kube-proxy's
// clientConnection settings (rate limits, content type).
func kubeClient(master string, cc componentbaseconfig.ClientConnectionConfiguration) (informer.Client, string, error) {
	restCfg, err := restConfig(master, cc.Kubeconfig)
	if err != nil {
		return nil, "", err
	}
	restCfg.UserAgent = "ipvsd"
	restCfg.QPS, restCfg.Burst = cc.QPS, int(cc.Burst)
	restCfg.ContentType, restCfg.AcceptContentTypes = cc.ContentType, cc.AcceptContentTypes
	client, err := informer.NewClient(restCfg)
	if err != nil {
		return nil, "", err
	}
	return client, restCfg.Host, nil
}

// kubeSource builds the informer source from the configuration.
func kubeSource(cfg proxyconfig.Config, nodeName string, deps informer.Deps) (*informer.Source, error) {
	clusterCIDRs, err := proxyconfig.ClusterCIDRs(&cfg.KubeProxyConfiguration)
	if err != nil {
		return nil, err
	}
	np, err := proxyconfig.NodePorts(&cfg.KubeProxyConfiguration)
	if err != nil {
		return nil, err
	}
	// Validated already: an invalid address cannot get here.
	bind, _ := netip.ParseAddr(cfg.BindAddress)
	marks := proxyconfig.FirewallMarks(&cfg)
	fwBase := firewall.Desired{ClusterCIDRs: clusterCIDRs, MasqueradeAll: cfg.IPTables.MasqueradeAll,
		MasqueradeBit: marks.MasqueradeBit, DropBit: marks.DropBit}
	fwBase.LocalInterface = proxyconfig.LocalInterface(&cfg)
	fwBase.Defaults()
	return informer.New(informer.Config{
		NodeName: nodeName, NodePortCIDRs: np.CIDRs, NodePortPrimary: np.Primary, BindAddress: bind, Firewall: fwBase,
		LocalByNodePodCIDRs: cfg.DetectLocalMode == proxyconfig.LocalModeNodeCIDR,
		Translate:           kube.Options{Scheduler: cfg.IPVS.Scheduler}, MarkMin: marks.LocalMin, MarkMax: marks.LocalMax,
	}, deps)
}

// nodeName is the override, or the host name as the kubelet registers it
// (lower case).
func nodeName(override string) (string, error) {
	if override != "" {
		return strings.ToLower(strings.TrimSpace(override)), nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("host name: %w", err)
	}
	return strings.ToLower(h), nil
}

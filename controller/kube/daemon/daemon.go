package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/controller/source/kube/healthcheck"
	"github.com/ipvsd/ipvsd/controller/source/kube/informer"
	"github.com/ipvsd/ipvsd/controller/source/kube/metrics"
	"github.com/ipvsd/ipvsd/internal/httpserve"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// strictARP keeps the node from answering ARP for addresses on its dummy
// link: arp_ignore=1 answers only for addresses of the receiving
// interface, arp_announce=2 sources ARP requests from the best local
// address of the outgoing one.
var strictARP = []netlinkutil.Sysctl{
	{Name: "net.ipv4.conf.all.arp_ignore", Value: "1"},
	{Name: "net.ipv4.conf.all.arp_announce", Value: "2"},
}

// Run runs the Kubernetes mode until ctx is done.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	// Stops the HTTP servers too if the source returns on its own.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clusterCIDRs, err := cfg.ClusterCIDRs()
	if err != nil {
		return err
	}
	npCIDRs, err := cfg.NodePortCIDRs()
	if err != nil {
		return err
	}
	nodeName, err := nodeName(cfg.HostnameOverride)
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	restCfg.UserAgent = "ipvsd"
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}

	env, err := hostenv.Open(hostenv.Options{Interface: cfg.Interface, SetSysctls: true}, log)
	if err != nil {
		return err
	}
	defer env.Close()
	if cfg.IPVS.StrictARP {
		if _, err := netlinkutil.EnsureSysctls(log, netlinkutil.ProcSys, strictARP); err != nil {
			return fmt.Errorf("strict ARP: %w", err)
		}
	}
	rec, err := reconciler.New(reconciler.Config{RecordPath: cfg.RecordPath, FullResyncInterval: cfg.SyncPeriod.Duration}, env.Deps(log))
	if err != nil {
		return err
	}
	fw, err := firewall.New(ctx, log, firewall.Config{})
	if err != nil {
		return err
	}

	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ipvsd", Host: nodeName})

	m := metrics.New(env.IPVS, func() map[ipvs.Key]string { return rec.Owned().Services })
	hc := healthcheck.New(log, "")
	defer hc.Close()

	fwBase := firewall.Desired{ClusterCIDRs: clusterCIDRs, MasqueradeAll: cfg.MasqueradeAll}
	fwBase.Defaults()
	src, err := informer.New(informer.Config{
		NodeName: nodeName, NodePortCIDRs: npCIDRs, Firewall: fwBase,
		Translate:       kube.Options{Scheduler: cfg.IPVS.Scheduler},
		MinSyncInterval: cfg.MinSyncPeriod.Duration, FullResyncInterval: cfg.SyncPeriod.Duration,
	}, informer.Deps{
		Client: client, Reconciler: rec, Firewall: fw, Recorder: recorder, Health: hc, Observer: m, Log: log,
		HostAddresses: env.HostAddresses,
	})
	if err != nil {
		return err
	}

	var waits []func() error
	for _, s := range []struct {
		addr, path string
		h          http.Handler
	}{
		{cfg.MetricsBindAddress, "/metrics", m.MetricsHandler()},
		// Healthy while a sync succeeded within two full-resync periods:
		// a retrying daemon stays up through a short API server outage.
		{cfg.HealthzBindAddress, "/healthz", m.HealthzHandler(2 * cfg.SyncPeriod.Duration)},
	} {
		if s.addr == "" {
			continue
		}
		mux := http.NewServeMux()
		mux.Handle(s.path, s.h)
		addr, wait, err := httpserve.Serve(ctx, s.addr, mux)
		if err != nil {
			return fmt.Errorf("serving %s on %s: %w", s.path, s.addr, err)
		}
		log.Info("serving", zap.Stringer("address", addr))
		waits = append(waits, wait)
	}
	log.Info("starting", zap.String("node", nodeName), zap.String("apiServer", restCfg.Host))
	errs := []error{src.Run(ctx)}
	cancel()
	for _, w := range waits {
		errs = append(errs, w())
	}
	return errors.Join(errs...)
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

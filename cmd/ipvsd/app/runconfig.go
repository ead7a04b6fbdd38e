package app

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// runConfig is the configuration file's content; each field has the flag of
// the same meaning (kube-proxy's name where it has one).
type runConfig struct {
	Kubeconfig       string `json:"kubeconfig,omitempty"`
	HostnameOverride string `json:"hostnameOverride,omitempty"`
	// ClusterCIDR is the pod networks, comma-separated (one per family).
	ClusterCIDR string `json:"clusterCIDR,omitempty"`
	// NodePortAddresses are CIDRs selecting the node addresses that
	// accept node ports; empty means the node's primary addresses.
	NodePortAddresses  []string   `json:"nodePortAddresses,omitempty"`
	MasqueradeAll      bool       `json:"masqueradeAll,omitempty"`
	IPVS               IPVSConfig `json:"ipvs"`
	MetricsBindAddress string     `json:"metricsBindAddress,omitempty"`
	HealthzBindAddress string     `json:"healthzBindAddress,omitempty"`
	// MinSyncPeriod is the least time between two syncs (default 0).
	MinSyncPeriod metav1.Duration `json:"minSyncPeriod,omitempty"`
	// SyncPeriod is the full resync period (default 60 s).
	SyncPeriod metav1.Duration `json:"syncPeriod,omitempty"`
	// Interface is the dummy link holding the VIPs.
	Interface string `json:"interface,omitempty"`
	// RecordPath is the ownership record.
	RecordPath string `json:"recordPath,omitempty"`
}

// IPVSConfig are the IPVS settings.
type IPVSConfig struct {
	Scheduler string `json:"scheduler,omitempty"`
	// StrictARP sets arp_ignore=1 and arp_announce=2, so the node does not
	// answer ARP for the VIPs on its dummy link (MetalLB's L2 mode needs
	// that: only the elected speaker may answer).
	StrictARP bool `json:"strictARP,omitempty"`
}

// Defaults returns the configuration without file or flags.
func defaultRunConfig() runConfig {
	return runConfig{
		IPVS:               IPVSConfig{Scheduler: "rr"},
		MetricsBindAddress: "127.0.0.1:10249",
		HealthzBindAddress: "0.0.0.0:10256",
		SyncPeriod:         metav1.Duration{Duration: time.Minute},
		Interface:          hostenv.DefaultInterface,
		RecordPath:         runstate.DefaultRecordPath,
	}
}

// BindFlags defines the flags on fs, writing to c.
func bindRunFlags(fs *pflag.FlagSet, c *runConfig) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "kubeconfig file (empty: in-cluster configuration)")
	fs.StringVar(&c.HostnameOverride, "hostname-override", c.HostnameOverride, "this node's Node name (default: the host name)")
	fs.StringVar(&c.ClusterCIDR, "cluster-cidr", c.ClusterCIDR, "pod networks, comma-separated; traffic from elsewhere to a service is masqueraded")
	fs.StringSliceVar(&c.NodePortAddresses, "nodeport-addresses", c.NodePortAddresses, "CIDRs of the node addresses that accept node ports (default: the node's primary addresses)")
	fs.BoolVar(&c.MasqueradeAll, "masquerade-all", c.MasqueradeAll, "masquerade all traffic to services")
	fs.StringVar(&c.IPVS.Scheduler, "ipvs-scheduler", c.IPVS.Scheduler, "default IPVS scheduler ("+strings.Join(ipvs.Schedulers, ", ")+")")
	fs.BoolVar(&c.IPVS.StrictARP, "ipvs-strict-arp", c.IPVS.StrictARP, "set arp_ignore=1 and arp_announce=2 (needed with MetalLB's L2 mode)")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", c.MetricsBindAddress, "address of /metrics (empty: off)")
	fs.StringVar(&c.HealthzBindAddress, "healthz-bind-address", c.HealthzBindAddress, "address of /healthz (empty: off)")
	fs.DurationVar(&c.MinSyncPeriod.Duration, "min-sync-period", c.MinSyncPeriod.Duration, "least time between two syncs")
	fs.DurationVar(&c.SyncPeriod.Duration, "sync-period", c.SyncPeriod.Duration, "full resync period")
	fs.StringVar(&c.Interface, "interface", c.Interface, "dummy interface holding the VIPs")
	fs.StringVar(&c.RecordPath, "record", c.RecordPath, "ownership record file")
}

// Load returns the configuration: defaults, then the file at path (if
// any), then the flags set on the command line, which win.
func loadRunConfig(path string, cmdline *pflag.FlagSet) (runConfig, error) {
	c := defaultRunConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	// Replay the flags given on top of the file, on a flag set bound to c.
	fs := pflag.NewFlagSet("config", pflag.ContinueOnError)
	bindRunFlags(fs, &c)
	var errs []error
	cmdline.Visit(func(f *pflag.Flag) {
		dst := fs.Lookup(f.Name)
		if dst == nil {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			errs = append(errs, dst.Value.(pflag.SliceValue).Replace(sv.GetSlice()))
			return
		}
		errs = append(errs, dst.Value.Set(f.Value.String()))
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate reports every invalid field.
func (c *runConfig) Validate() error {
	var errs []error
	if _, err := c.ClusterCIDRs(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.NodePortCIDRs(); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(ipvs.Schedulers, c.IPVS.Scheduler) {
		errs = append(errs, fmt.Errorf("ipvs scheduler %q: want one of %s", c.IPVS.Scheduler, strings.Join(ipvs.Schedulers, ", ")))
	}
	if c.MinSyncPeriod.Duration < 0 || c.SyncPeriod.Duration <= 0 || c.MinSyncPeriod.Duration > c.SyncPeriod.Duration {
		errs = append(errs, fmt.Errorf("sync periods: want 0 <= min (%v) <= full (%v), full > 0", c.MinSyncPeriod.Duration, c.SyncPeriod.Duration))
	}
	if c.Interface == "" || len(c.Interface) > 15 {
		errs = append(errs, fmt.Errorf("interface %q: want 1-15 characters", c.Interface))
	}
	return errors.Join(errs...)
}

// ClusterCIDRs parses ClusterCIDR.
func (c *runConfig) ClusterCIDRs() ([]netip.Prefix, error) {
	if strings.TrimSpace(c.ClusterCIDR) == "" {
		return nil, nil
	}
	return parsePrefixes("cluster CIDR", strings.Split(c.ClusterCIDR, ","))
}

// NodePortCIDRs parses NodePortAddresses. "primary" (kube-proxy's
// spelling of the default) is accepted alone.
func (c *runConfig) NodePortCIDRs() ([]netip.Prefix, error) {
	if len(c.NodePortAddresses) == 1 && c.NodePortAddresses[0] == "primary" {
		return nil, nil
	}
	return parsePrefixes("node-port address", c.NodePortAddresses)
}

func parsePrefixes(what string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range ss {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		out = append(out, p.Masked())
	}
	return out, errors.Join(errs...)
}

package proxyconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ipvsd/ipvsd/ipvs"
)

// BindFlags defines kube-proxy's flags for the fields ipvsd takes, and
// ipvsd's own, writing into c. Their defaults are c's values.
func BindFlags(fs *pflag.FlagSet, c *Config) {
	bindClientFlags(fs, c)
	bindIPVSFlags(fs, c)
	bindConntrackFlags(fs, c)
	k := &c.KubeProxyConfiguration
	fs.StringVar(&k.HostnameOverride, "hostname-override", k.HostnameOverride, "this node's Node name (default: the host name)")
	fs.StringVar(&k.BindAddress, "bind-address", k.BindAddress, "the node's primary IP when the Node object has none; its family picks the default listen addresses")
	fs.StringVar(&k.HealthzBindAddress, "healthz-bind-address", k.HealthzBindAddress, "IP:port of /healthz and /livez (empty: off)")
	fs.StringVar(&k.MetricsBindAddress, "metrics-bind-address", k.MetricsBindAddress, "IP:port of /metrics (empty: off)")
	fs.BoolVar(&k.BindAddressHardFail, "bind-address-hard-fail", k.BindAddressHardFail, "exit when the health or metrics address cannot be bound (else log and go on)")
	fs.BoolVar(&k.EnableProfiling, "profiling", k.EnableProfiling, "serve /debug/pprof on the metrics address")
	fs.StringVar((*string)(&k.Mode), "proxy-mode", string(k.Mode), "ipvs (the only mode ipvsd has; anything else is an error)")
	fs.StringVar(&k.ClusterCIDR, "cluster-cidr", k.ClusterCIDR, "pod networks, comma-separated (one per family)")
	fs.StringVar((*string)(&k.DetectLocalMode), "detect-local-mode", string(k.DetectLocalMode), "how traffic from local pods is told apart: ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix")
	fs.StringVar(&k.DetectLocal.BridgeInterface, "pod-bridge-interface", k.DetectLocal.BridgeInterface, "the pods' bridge (detect-local-mode BridgeInterface)")
	fs.StringVar(&k.DetectLocal.InterfaceNamePrefix, "pod-interface-name-prefix", k.DetectLocal.InterfaceNamePrefix, "the prefix of pod interfaces (detect-local-mode InterfaceNamePrefix)")
	fs.StringSliceVar(&k.NodePortAddresses, "nodeport-addresses", k.NodePortAddresses, "CIDRs and keywords (primary, all, localhost) of the node addresses serving node ports (default: all)")
	fs.BoolVar(&k.IPTables.MasqueradeAll, "masquerade-all", k.IPTables.MasqueradeAll, "masquerade all traffic to services")
	fs.Int32Var(k.IPTables.MasqueradeBit, "iptables-masquerade-bit", *k.IPTables.MasqueradeBit, "the fwmark bit (0-31) of packets to masquerade")
	fs.Int32Var(k.OOMScoreAdj, "oom-score-adj", *k.OOMScoreAdj, "oom_score_adj of the process, -1000 to 1000")
	fs.DurationVar(&k.ConfigSyncPeriod.Duration, "config-sync-period", k.ConfigSyncPeriod.Duration, "accepted for kube-proxy's sake; no effect (the informers follow the API server by watch; the full resync, --ipvs-sync-period, repairs the kernel)")
	fs.Var(gatesValue{&k.FeatureGates}, "feature-gates", "kube-proxy's feature gates, key=value,...: accepted, and logged as having no effect")
	fs.StringVar(&c.IPVSD.Interface, "interface", c.IPVSD.Interface, "dummy link holding the service addresses")
	fs.StringVar(&c.IPVSD.RecordPath, "record", c.IPVSD.RecordPath, "ownership record file")
}

func bindClientFlags(fs *pflag.FlagSet, c *Config) {
	cc := &c.ClientConnection
	fs.StringVar(&cc.Kubeconfig, "kubeconfig", cc.Kubeconfig, "kubeconfig file (empty: in-cluster configuration)")
	fs.StringVar(&c.Master, "master", c.Master, "the API server's address, overriding the kubeconfig's")
	fs.StringVar(&cc.ContentType, "kube-api-content-type", cc.ContentType, "content type of requests to the API server")
	fs.Float32Var(&cc.QPS, "kube-api-qps", cc.QPS, "queries per second to the API server")
	fs.Int32Var(&cc.Burst, "kube-api-burst", cc.Burst, "burst of queries to the API server")
}

func bindIPVSFlags(fs *pflag.FlagSet, c *Config) {
	v := &c.IPVS
	fs.DurationVar(&v.SyncPeriod.Duration, "ipvs-sync-period", v.SyncPeriod.Duration, "full resync period: IPVS and the firewall compared with the kernel and repaired")
	fs.DurationVar(&v.MinSyncPeriod.Duration, "ipvs-min-sync-period", v.MinSyncPeriod.Duration, "least time between two syncs (0: program each change at once)")
	fs.StringVar(&v.Scheduler, "ipvs-scheduler", v.Scheduler, "default IPVS scheduler ("+strings.Join(ipvs.Schedulers, ", ")+")")
	fs.StringSliceVar(&v.ExcludeCIDRs, "ipvs-exclude-cidrs", v.ExcludeCIDRs, "CIDRs whose virtual servers ipvsd never touches")
	fs.BoolVar(&v.StrictARP, "ipvs-strict-arp", v.StrictARP, "set arp_ignore=1 and arp_announce=2 (needed with MetalLB's L2 mode)")
	fs.DurationVar(&v.TCPTimeout.Duration, "ipvs-tcp-timeout", v.TCPTimeout.Duration, "IPVS timeout of idle TCP connections (0: keep the kernel's)")
	fs.DurationVar(&v.TCPFinTimeout.Duration, "ipvs-tcpfin-timeout", v.TCPFinTimeout.Duration, "IPVS timeout of TCP connections after a FIN (0: keep the kernel's)")
	fs.DurationVar(&v.UDPTimeout.Duration, "ipvs-udp-timeout", v.UDPTimeout.Duration, "IPVS timeout of UDP flows (0: keep the kernel's)")
}

func bindConntrackFlags(fs *pflag.FlagSet, c *Config) {
	ct := &c.Conntrack
	fs.Int32Var(ct.MaxPerCore, "conntrack-max-per-core", *ct.MaxPerCore, "conntrack entries per CPU (0: leave the table size alone)")
	fs.Int32Var(ct.Min, "conntrack-min", *ct.Min, "least conntrack table size, whatever conntrack-max-per-core gives")
	fs.DurationVar(&ct.TCPEstablishedTimeout.Duration, "conntrack-tcp-timeout-established", ct.TCPEstablishedTimeout.Duration, "conntrack timeout of idle established TCP (0: keep the kernel's)")
	fs.DurationVar(&ct.TCPCloseWaitTimeout.Duration, "conntrack-tcp-timeout-close-wait", ct.TCPCloseWaitTimeout.Duration, "conntrack timeout of TCP in CLOSE_WAIT (0: keep the kernel's)")
	fs.BoolVar(&ct.TCPBeLiberal, "conntrack-tcp-be-liberal", ct.TCPBeLiberal, "mark only out-of-window RST as invalid (nf_conntrack_tcp_be_liberal)")
	fs.DurationVar(&ct.UDPTimeout.Duration, "conntrack-udp-timeout", ct.UDPTimeout.Duration, "conntrack timeout of unreplied UDP (0: keep the kernel's)")
	fs.DurationVar(&ct.UDPStreamTimeout.Duration, "conntrack-udp-timeout-stream", ct.UDPStreamTimeout.Duration, "conntrack timeout of UDP streams (0: keep the kernel's)")
}

// Overlay applies the flags set on the command line to c, so that they
// win over the file. It returns which file fields they replaced, for the
// log: kube-proxy ignores most flags when --config is given, so a flag
// left over in a migrated DaemonSet changes behaviour here and must show.
func Overlay(c *Config, cmdline *pflag.FlagSet) error {
	fs := pflag.NewFlagSet("overlay", pflag.ContinueOnError)
	BindFlags(fs, c)
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
		if err := dst.Value.Set(f.Value.String()); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// gatesValue is --feature-gates: key=bool pairs, comma-separated.
type gatesValue struct{ m *map[string]bool }

func (g gatesValue) String() string {
	if g.m == nil || *g.m == nil {
		return ""
	}
	var parts []string
	for k, v := range *g.m {
		parts = append(parts, fmt.Sprintf("%s=%t", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (g gatesValue) Set(s string) error {
	if *g.m == nil {
		*g.m = map[string]bool{}
	}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q: want key=true or key=false", kv)
		}
		switch strings.TrimSpace(v) {
		case "true":
			(*g.m)[strings.TrimSpace(k)] = true
		case "false":
			(*g.m)[strings.TrimSpace(k)] = false
		default:
			return fmt.Errorf("%q: want key=true or key=false", kv)
		}
	}
	return nil
}

func (gatesValue) Type() string { return "mapStringBool" }

package proxyconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kpv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// Validate reports every invalid field of a defaulted configuration, each
// error starting with the field's path in the file.
func (c *Config) Validate() error {
	k := &c.KubeProxyConfiguration
	var errs []error
	bad := func(path string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if k.Mode != "" && k.Mode != "ipvs" {
		bad("mode", "%q: ipvsd is an IPVS proxy; want ipvs or empty", k.Mode)
	}
	errs = append(errs, validateClient(k)...)
	errs = append(errs, validateAddresses(k)...)
	errs = append(errs, validateIPVS(&k.IPVS)...)
	errs = append(errs, validateConntrack(&k.Conntrack)...)
	errs = append(errs, validateLocal(k)...)
	if v := *k.OOMScoreAdj; v < -1000 || v > 1000 {
		bad("oomScoreAdj", "%d: want -1000 to 1000", v)
	}
	// Under the bit ipvsd keeps its local-traffic marks, which need a
	// few bits: kube-proxy's 0 and 1 leave none.
	if v := *k.IPTables.MasqueradeBit; v < 2 || v > 31 {
		bad("iptables.masqueradeBit", "%d: want 2 to 31 (ipvsd's local-traffic marks use the bits below it)", v)
	}
	if k.ConfigSyncPeriod.Duration <= 0 {
		bad("configSyncPeriod", "%v: want more than 0", k.ConfigSyncPeriod.Duration)
	}
	if err := validInterfaceName(c.IPVSD.Interface); err != nil {
		bad("ipvsd.interface", "%v", err)
	}
	if !filepath.IsAbs(c.IPVSD.RecordPath) {
		bad("ipvsd.recordPath", "%q: want an absolute path", c.IPVSD.RecordPath)
	}
	return errors.Join(errs...)
}

func validateClient(k *kpv1alpha1.KubeProxyConfiguration) []error {
	var errs []error
	cc := k.ClientConnection
	if cc.QPS < 0 {
		errs = append(errs, fmt.Errorf("clientConnection.qps: %v: want 0 or more", cc.QPS))
	}
	if cc.Burst < 0 {
		errs = append(errs, fmt.Errorf("clientConnection.burst: %d: want 0 or more", cc.Burst))
	}
	if cc.ContentType != "application/vnd.kubernetes.protobuf" && cc.ContentType != "application/json" {
		errs = append(errs, fmt.Errorf("clientConnection.contentType: %q: want application/vnd.kubernetes.protobuf or application/json", cc.ContentType))
	}
	return errs
}

func validateAddresses(k *kpv1alpha1.KubeProxyConfiguration) []error {
	var errs []error
	if _, err := netip.ParseAddr(k.BindAddress); err != nil {
		errs = append(errs, fmt.Errorf("bindAddress: %w", err))
	}
	// Empty turns a server off (a flag set to "" does that, as in
	// kube-proxy; in the file, empty means the default).
	for _, f := range []struct{ path, addr string }{{"healthzBindAddress", k.HealthzBindAddress}, {"metricsBindAddress", k.MetricsBindAddress}} {
		path, addr := f.path, f.addr
		if addr == "" {
			continue
		}
		if _, err := netip.ParseAddrPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: want IP:port: %w", path, addr, err))
		}
	}
	if _, err := ClusterCIDRs(k); err != nil {
		errs = append(errs, fmt.Errorf("clusterCIDR: %w", err))
	}
	if _, err := NodePorts(k); err != nil {
		errs = append(errs, fmt.Errorf("nodePortAddresses: %w", err))
	}
	return errs
}

func validateIPVS(v *kpv1alpha1.KubeProxyIPVSConfiguration) []error {
	var errs []error
	if v.SyncPeriod.Duration <= 0 {
		errs = append(errs, fmt.Errorf("ipvs.syncPeriod: %v: want more than 0", v.SyncPeriod.Duration))
	}
	if v.MinSyncPeriod.Duration < 0 || v.MinSyncPeriod.Duration > v.SyncPeriod.Duration {
		errs = append(errs, fmt.Errorf("ipvs.minSyncPeriod: %v: want 0 to ipvs.syncPeriod (%v)", v.MinSyncPeriod.Duration, v.SyncPeriod.Duration))
	}
	if !slices.Contains(ipvs.Schedulers, v.Scheduler) {
		errs = append(errs, fmt.Errorf("ipvs.scheduler: %q: want one of %s", v.Scheduler, strings.Join(ipvs.Schedulers, ", ")))
	}
	if _, err := parseCIDRs(v.ExcludeCIDRs); err != nil {
		errs = append(errs, fmt.Errorf("ipvs.excludeCIDRs: %w", err))
	}
	for _, f := range []duration{{"ipvs.tcpTimeout", v.TCPTimeout.Duration}, {"ipvs.tcpFinTimeout", v.TCPFinTimeout.Duration}, {"ipvs.udpTimeout", v.UDPTimeout.Duration}} {
		path, d := f.path, f.d
		if d < 0 || d%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s: %v: want whole seconds, 0 (keep the kernel's) or more", path, d))
		}
	}
	return errs
}

func validateConntrack(ct *kpv1alpha1.KubeProxyConntrackConfiguration) []error {
	var errs []error
	if *ct.MaxPerCore < 0 {
		errs = append(errs, fmt.Errorf("conntrack.maxPerCore: %d: want 0 (leave the table size alone) or more", *ct.MaxPerCore))
	}
	if *ct.Min < 0 {
		errs = append(errs, fmt.Errorf("conntrack.min: %d: want 0 or more", *ct.Min))
	}
	for _, f := range []duration{
		{"conntrack.tcpEstablishedTimeout", ct.TCPEstablishedTimeout.Duration}, {"conntrack.tcpCloseWaitTimeout", ct.TCPCloseWaitTimeout.Duration},
		{"conntrack.udpTimeout", ct.UDPTimeout.Duration}, {"conntrack.udpStreamTimeout", ct.UDPStreamTimeout.Duration},
	} {
		path, d := f.path, f.d
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: %v: want 0 (keep the kernel's) or more", path, d))
		}
	}
	return errs
}

// duration is one duration field and its path, for checks in file order.
type duration struct {
	path string
	d    time.Duration
}

// The ways kube-proxy tells traffic from local pods from the rest.
const (
	LocalModeClusterCIDR   kpv1alpha1.LocalMode = "ClusterCIDR"
	LocalModeNodeCIDR      kpv1alpha1.LocalMode = "NodeCIDR"
	LocalModeBridge        kpv1alpha1.LocalMode = "BridgeInterface"
	LocalModeInterfaceName kpv1alpha1.LocalMode = "InterfaceNamePrefix"
)

func validateLocal(k *kpv1alpha1.KubeProxyConfiguration) []error {
	switch k.DetectLocalMode {
	case "", LocalModeClusterCIDR, LocalModeNodeCIDR:
	case LocalModeBridge:
		if err := validInterfaceName(k.DetectLocal.BridgeInterface); err != nil {
			return []error{fmt.Errorf("detectLocal.bridgeInterface: %w (detectLocalMode is BridgeInterface)", err)}
		}
	case LocalModeInterfaceName:
		if p := k.DetectLocal.InterfaceNamePrefix; p == "" || len(p) > 15 {
			return []error{fmt.Errorf("detectLocal.interfaceNamePrefix: %q: want 1-15 characters (detectLocalMode is InterfaceNamePrefix)", p)}
		}
	default:
		return []error{fmt.Errorf("detectLocalMode: %q: want ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix", k.DetectLocalMode)}
	}
	return nil
}

// validInterfaceName applies the kernel's rules for a link name.
func validInterfaceName(name string) error {
	if !netlinkutil.ValidLinkName(name) {
		return fmt.Errorf("%q: not a valid link name (1-15 bytes, no '/', ':' or whitespace, not . or ..)", name)
	}
	return nil
}

// ClusterCIDRs parses clusterCIDR: at most one prefix per family.
func ClusterCIDRs(k *kpv1alpha1.KubeProxyConfiguration) ([]netip.Prefix, error) {
	if strings.TrimSpace(k.ClusterCIDR) == "" {
		return nil, nil
	}
	ps, err := parseCIDRs(strings.Split(k.ClusterCIDR, ","))
	if err != nil {
		return nil, err
	}
	if len(ps) > 2 || (len(ps) == 2 && ps[0].Addr().Is4() == ps[1].Addr().Is4()) {
		return nil, fmt.Errorf("%q: want one CIDR, or one of each family", k.ClusterCIDR)
	}
	return ps, nil
}

// NodePortAddresses is nodePortAddresses resolved: the node's primary
// addresses, and host addresses inside CIDRs.
type NodePortAddresses struct {
	Primary bool
	CIDRs   []netip.Prefix
}

// NodePorts parses nodePortAddresses. Unset means `all`, kube-proxy's
// IPVS-mode default; `primary` is the Node's primary addresses,
// `localhost` the loopback ranges.
func NodePorts(k *kpv1alpha1.KubeProxyConfiguration) (NodePortAddresses, error) {
	var np NodePortAddresses
	list := k.NodePortAddresses
	if len(list) == 0 {
		list = []string{"all"}
	}
	var errs []error
	for _, s := range list {
		switch s = strings.TrimSpace(s); s {
		case "primary":
			np.Primary = true
		case "all":
			np.CIDRs = append(np.CIDRs, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"))
		case "localhost":
			np.CIDRs = append(np.CIDRs, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		default:
			ps, err := parseCIDRs([]string{s})
			errs = append(errs, err)
			np.CIDRs = append(np.CIDRs, ps...)
		}
	}
	return np, errors.Join(errs...)
}

// ExcludeCIDRs parses ipvs.excludeCIDRs.
func ExcludeCIDRs(k *kpv1alpha1.KubeProxyConfiguration) ([]netip.Prefix, error) {
	return parseCIDRs(k.IPVS.ExcludeCIDRs)
}

func parseCIDRs(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range ss {
		// net.ParseCIDR accepts what kube-proxy accepts (it is what
		// kube-proxy uses), including a host address with its length.
		_, n, err := net.ParseCIDR(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", s, err))
			continue
		}
		p, _ := netip.AddrFromSlice(n.IP)
		ones, _ := n.Mask.Size()
		out = append(out, netip.PrefixFrom(p.Unmap(), ones))
	}
	return out, errors.Join(errs...)
}

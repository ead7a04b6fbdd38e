package proxyconfig

import (
	"net"
	"net/netip"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/runstate"
)

// kube-proxy's defaults for the fields an IPVS proxy uses, as its
// v1alpha1 defaulting sets them (Kubernetes 1.35), so that a file written
// for kube-proxy means the same thing here.
const (
	defaultHealthzPort = 10256
	defaultMetricsPort = 10249
	// defaultOOMScoreAdj is the kubelet's value for node-critical
	// proxies: killed after everything but the kubelet and the runtime.
	defaultOOMScoreAdj   = -999
	defaultSyncPeriod    = 30 * time.Second
	defaultScheduler     = "rr"
	defaultConntrackCore = 32 * 1024
	defaultConntrackMin  = 128 * 1024
	// A day: a fifth of the kernel's five days, so that dead flows of a
	// busy node do not fill the table.
	defaultTCPEstablished = 24 * time.Hour
	// An hour rather than the kernel's minute: a half-closed flow whose
	// entry expires loses its NAT, and its later FIN never arrives.
	defaultTCPCloseWait    = time.Hour
	defaultConfigSync      = 15 * time.Minute
	defaultContentType     = "application/vnd.kubernetes.protobuf"
	defaultQPS             = 5
	defaultBurst           = 10
	defaultMasqueradeBit   = 14
	defaultBindAddressIPv4 = "0.0.0.0"
	defaultMetricsHostIPv4 = "127.0.0.1"
	defaultMetricsHostIPv6 = "::1"
	defaultHealthzHostIPv6 = "::"
	defaultHealthzHostIPv4 = "0.0.0.0"
	defaultIPVSDInterface  = hostenv.DefaultInterface
	defaultIPVSDRecordPath = runstate.DefaultRecordPath
)

// Default is the configuration with no file and no flags.
func Default() Config {
	var c Config
	c.APIVersion, c.Kind = APIVersion, Kind
	SetDefaults(&c)
	return c
}

// SetDefaults fills in what the file left out, as kube-proxy does: an
// address without a port gets the default port, a bindAddress of the
// other family moves the default listen addresses to it.
func SetDefaults(c *Config) {
	k := &c.KubeProxyConfiguration
	if k.BindAddress == "" {
		k.BindAddress = defaultBindAddressIPv4
	}
	healthzHost, metricsHost := defaultHealthzHostIPv4, defaultMetricsHostIPv4
	if a, err := netip.ParseAddr(k.BindAddress); err == nil && a.Unmap().Is6() {
		healthzHost, metricsHost = defaultHealthzHostIPv6, defaultMetricsHostIPv6
	}
	k.HealthzBindAddress = withPort(k.HealthzBindAddress, healthzHost, defaultHealthzPort)
	k.MetricsBindAddress = withPort(k.MetricsBindAddress, metricsHost, defaultMetricsPort)
	setIfNil(&k.OOMScoreAdj, defaultOOMScoreAdj)
	setIfZero(&k.IPVS.SyncPeriod, defaultSyncPeriod)
	if k.IPVS.Scheduler == "" {
		k.IPVS.Scheduler = defaultScheduler
	}
	setIfNil(&k.IPTables.MasqueradeBit, defaultMasqueradeBit)
	setIfNil(&k.Conntrack.MaxPerCore, defaultConntrackCore)
	setIfNil(&k.Conntrack.Min, defaultConntrackMin)
	if k.Conntrack.TCPEstablishedTimeout == nil {
		k.Conntrack.TCPEstablishedTimeout = &metav1.Duration{Duration: defaultTCPEstablished}
	}
	if k.Conntrack.TCPCloseWaitTimeout == nil {
		k.Conntrack.TCPCloseWaitTimeout = &metav1.Duration{Duration: defaultTCPCloseWait}
	}
	setIfZero(&k.ConfigSyncPeriod, defaultConfigSync)
	cc := &k.ClientConnection
	if cc.ContentType == "" {
		cc.ContentType = defaultContentType
	}
	if cc.QPS == 0 {
		cc.QPS = defaultQPS
	}
	if cc.Burst == 0 {
		cc.Burst = defaultBurst
	}
	if c.IPVSD.Interface == "" {
		c.IPVSD.Interface = defaultIPVSDInterface
	}
	if c.IPVSD.RecordPath == "" {
		c.IPVSD.RecordPath = defaultIPVSDRecordPath
	}
}

// withPort is kube-proxy's reading of a listen address: empty is the
// default host and port, a bare host gets the default port. Anything else
// is left for Validate to judge.
func withPort(addr, host string, port int) string {
	p := strconv.Itoa(port)
	switch {
	case addr == "":
		return net.JoinHostPort(host, p)
	case net.ParseIP(addr) != nil:
		return net.JoinHostPort(addr, p)
	}
	return addr
}

func setIfNil[T any](p **T, v T) {
	if *p == nil {
		*p = ptr.To(v)
	}
}

func setIfZero(d *metav1.Duration, v time.Duration) {
	if d.Duration == 0 {
		d.Duration = v
	}
}

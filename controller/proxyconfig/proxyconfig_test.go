package proxyconfig

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/ipvsd/ipvsd/internal/golden"
)

const header = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"

// load is the path of `ipvsd run`: file, defaults, flags, validation.
func load(t *testing.T, file string, args ...string) (Config, error) {
	t.Helper()
	c, err := Decode([]byte(file))
	if err != nil {
		return c, err
	}
	SetDefaults(&c)
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	d := Default()
	BindFlags(fs, &d)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := Overlay(&c, fs); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// TestKubeadmFile reads the file kubeadm generates for an IPVS cluster:
// it must load unchanged, take the fields an IPVS proxy uses, and name
// what it ignores.
func TestKubeadmFile(t *testing.T) {
	data, err := os.ReadFile("testdata/kubeadm-ipvs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Ignored(&c), []string(nil); !cmp.Equal(got, want) {
		t.Errorf("ignored %v, want %v", got, want)
	}
	SetDefaults(&c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.IPVS.Scheduler != "wrr" || !c.IPVS.StrictARP || c.IPVS.TCPTimeout.Duration != 15*time.Minute {
		t.Errorf("ipvs section not taken: %+v", c.IPVS)
	}
	if c.IPVS.SyncPeriod.Duration != 30*time.Second || *c.Conntrack.MaxPerCore != 32768 || c.ClientConnection.QPS != 5 {
		t.Errorf("explicit zeros not defaulted as kube-proxy does: sync %v, maxPerCore %d, qps %v", c.IPVS.SyncPeriod, *c.Conntrack.MaxPerCore, c.ClientConnection.QPS)
	}
	cidrs, err := ClusterCIDRs(&c.KubeProxyConfiguration)
	if err != nil || len(cidrs) != 2 {
		t.Errorf("cluster CIDRs %v, %v", cidrs, err)
	}
}

// TestDefaults renders the configuration without file or flags, as
// --write-config-to prints it: kube-proxy's IPVS-mode defaults.
func TestDefaults(t *testing.T) {
	out, err := Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/defaults.golden.yaml", string(out))
	// What was written reads back to the same configuration.
	c, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if ig := Ignored(&c); len(ig) > 0 {
		t.Errorf("our own defaults set ignored fields %v", ig)
	}
	SetDefaults(&c)
	if diff := cmp.Diff(Default(), c); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestDecodeRejects: every mistake is named, with its path, all at once.
func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"empty", " \n\t\n", []string{"empty file"}},
		{"no kind", "mode: ipvs\n", []string{`apiVersion "", kind ""`}},
		{"other group", "apiVersion: kubeproxy.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n", []string{"want apiVersion kubeproxy.config.k8s.io/v1alpha1"}},
		{"unknown fields, all of them", header + "ipvs:\n  schedular: rr\n  strictArp: true\nipvsd:\n  interfce: x\n", []string{`unknown field "ipvs.schedular"`, `unknown field "ipvs.strictArp"`, `unknown field "ipvsd.interfce"`}},
		{"case matters", header + "Mode: ipvs\n", []string{`unknown field "Mode"`}},
		{"duplicate", header + "mode: ipvs\nmode: iptables\n", []string{`"mode" already set`}},
		{"two documents", header + "---\n" + header, []string{"more than one YAML document"}},
		{"wrong type", header + "ipvs:\n  strictARP: yes please\n", []string{"strictARP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.file))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestReadFileLimits(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(header+"# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") || !strings.Contains(err.Error(), big) {
		t.Errorf("oversized file: %v", err)
	}
	if _, err := ReadFile("/dev/zero"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("/dev/zero: %v", err)
	}
}

// TestValidate: every invalid field is reported, each with its path.
func TestValidate(t *testing.T) {
	file := header + `mode: iptables
clientConnection: {qps: -1, contentType: text/plain}
bindAddress: nowhere
metricsBindAddress: 127.0.0.1
healthzBindAddress: "localhost:x"
clusterCIDR: 10.0.0.0/8,10.1.0.0/16
nodePortAddresses: [primary, 10.0.0.0/33]
oomScoreAdj: 2000
detectLocalMode: BridgeInterface
iptables: {masqueradeBit: 40}
ipvs: {scheduler: fastest, syncPeriod: 10s, minSyncPeriod: 20s, excludeCIDRs: [bad], tcpTimeout: 1500ms}
conntrack: {maxPerCore: -1, udpTimeout: -1s}
ipvsd: {interface: "a/b", recordPath: relative.json}
`
	_, err := load(t, file)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, path := range []string{
		"mode:", "clientConnection.qps:", "clientConnection.contentType:", "bindAddress:",
		"healthzBindAddress:", "clusterCIDR:", "nodePortAddresses:", "oomScoreAdj:",
		"detectLocal.bridgeInterface:", "iptables.masqueradeBit:", "ipvs.scheduler:", "ipvs.minSyncPeriod:",
		"ipvs.excludeCIDRs:", "ipvs.tcpTimeout:", "conntrack.maxPerCore:", "conntrack.udpTimeout:",
		"ipvsd.interface:", "ipvsd.recordPath:",
	} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("no error for %s in:\n%v", path, err)
		}
	}
	// A bare IP gets kube-proxy's default port; that one is valid.
	if strings.Contains(err.Error(), "metricsBindAddress") {
		t.Errorf("127.0.0.1 without a port rejected: %v", err)
	}
}

// TestFlagsWin: a flag given on the command line replaces the file's
// value; a flag not given leaves it.
func TestFlagsWin(t *testing.T) {
	file := header + "ipvs: {scheduler: wlc, syncPeriod: 45s}\nnodePortAddresses: [192.168.0.0/16]\nhostnameOverride: file-node\n"
	c, err := load(t, file, "--ipvs-scheduler=sh", "--nodeport-addresses=primary,fd00::/64", "--metrics-bind-address=", "--feature-gates=Foo=true")
	if err != nil {
		t.Fatal(err)
	}
	if c.IPVS.Scheduler != "sh" || c.IPVS.SyncPeriod.Duration != 45*time.Second || c.HostnameOverride != "file-node" {
		t.Errorf("merge: scheduler %q, sync %v, hostname %q", c.IPVS.Scheduler, c.IPVS.SyncPeriod.Duration, c.HostnameOverride)
	}
	if c.MetricsBindAddress != "" {
		t.Errorf("--metrics-bind-address= did not turn metrics off: %q", c.MetricsBindAddress)
	}
	np, err := NodePorts(&c.KubeProxyConfiguration)
	want := NodePortAddresses{Primary: true, CIDRs: []netip.Prefix{netip.MustParsePrefix("fd00::/64")}}
	if err != nil || !cmp.Equal(np, want, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })) {
		t.Errorf("node ports %+v, %v", np, err)
	}
	if !c.FeatureGates["Foo"] {
		t.Errorf("feature gates %v", c.FeatureGates)
	}
}

func TestIgnoredNamesEachField(t *testing.T) {
	file := header + `iptables: {syncPeriod: 10s, masqueradeAll: true}
nftables: {syncPeriod: 5s}
winkernel: {enableDSR: true}
portRange: 30000-32767
configSyncPeriod: 1m
logging: {verbosity: 4}
featureGates: {Zeta: true, Alpha: false}
`
	c, err := Decode([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"iptables.syncPeriod", "nftables", "winkernel", "configSyncPeriod", "portRange", "logging", "featureGates.Alpha", "featureGates.Zeta"}
	if got := Ignored(&c); !cmp.Equal(got, want) {
		t.Errorf("ignored %v, want %v", got, want)
	}
}

func TestNodePortsDefaultIsAll(t *testing.T) {
	c := Default()
	np, err := NodePorts(&c.KubeProxyConfiguration)
	if err != nil || np.Primary || len(np.CIDRs) != 2 || np.CIDRs[0].Bits() != 0 || np.CIDRs[1].Bits() != 0 {
		t.Errorf("default node ports %+v, %v: want all (0.0.0.0/0, ::/0), kube-proxy's IPVS default", np, err)
	}
}

func TestIPv6BindAddressMovesDefaults(t *testing.T) {
	c, err := load(t, header+"bindAddress: \"fd00::1\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.HealthzBindAddress != "[::]:10256" || c.MetricsBindAddress != "[::1]:10249" {
		t.Errorf("healthz %q metrics %q", c.HealthzBindAddress, c.MetricsBindAddress)
	}
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/proxyconfig"
	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

const kubeProxyHeader = "apiVersion: " + proxyconfig.APIVersion + "\nkind: " + proxyconfig.Kind + "\n"

// configCases are KubeProxyConfiguration files as clusters run them.
var configCases = map[string]string{
	"minimal": "mode: ipvs\n",
	"kubeadm": "", // controller/proxyconfig/testdata/kubeadm-ipvs.yaml
	"tuned": `mode: ipvs
bindAddress: "fd00::1"
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
nodePortAddresses: [192.168.0.0/16, "fd00::/64"]
clientConnection: {qps: 50, burst: 100, contentType: application/json}
ipvs: {scheduler: wlc, syncPeriod: 45s, minSyncPeriod: 1s, strictARP: true, tcpTimeout: 15m, excludeCIDRs: [10.0.0.0/24]}
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 2h}
iptables: {masqueradeAll: true, masqueradeBit: 15}
oomScoreAdj: -500
detectLocalMode: InterfaceNamePrefix
detectLocal: {interfaceNamePrefix: veth}
ipvsd: {interface: lb0}
`,
}

// TestKubeProxyConfigDefaults runs the real kube-proxy (v1.35.4, built by
// e2e/apiserver/build.sh) and ipvsd on the same files with
// --write-config-to, and compares what each would run with: every field
// must be the same, except the few where an empty value and kube-proxy's
// spelled-out default mean the same thing. Each proxy must also read the
// other's output, so one file serves both during a migration.
func TestKubeProxyConfigDefaults(t *testing.T) {
	bins, err := apiserver.EnsureBinaries()
	if err != nil {
		t.Fatal(err)
	}
	ipvsd := lab.IPVSD(t).HostPath
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range configCases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.yaml")
			data := kubeProxyHeader + body
			if body == "" {
				b, err := os.ReadFile(filepath.Join(root, "controller/proxyconfig/testdata/kubeadm-ipvs.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				data = string(b)
			}
			if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			kp := writeConfig(t, bins.KubeProxy, in, filepath.Join(dir, "kube-proxy.yaml"))
			ours := writeConfig(t, ipvsd, in, filepath.Join(dir, "ipvsd.yaml"), "run")
			if diff := cmp.Diff(sameMeaning(kp), sameMeaning(ours)); diff != "" {
				t.Errorf("effective configuration (-kube-proxy +ipvsd):\n%s", diff)
			}
			// Each reads the other's file back.
			writeConfig(t, bins.KubeProxy, filepath.Join(dir, "ipvsd.yaml"), filepath.Join(dir, "kp-of-ipvsd.yaml"))
			writeConfig(t, ipvsd, filepath.Join(dir, "kube-proxy.yaml"), filepath.Join(dir, "ipvsd-of-kp.yaml"), "run")
		})
	}
}

// TestKubeProxyConfigOtherModes: a file for another proxy mode, which
// kube-proxy accepts, is a clear error for ipvsd.
func TestKubeProxyConfigOtherModes(t *testing.T) {
	ipvsd := lab.IPVSD(t).HostPath
	in := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(in, []byte(kubeProxyHeader+"mode: nftables\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ipvsd, "run", "--config", in, "--write-config-to", in+".out").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `mode: "nftables": ipvsd is an IPVS proxy`) {
		t.Errorf("ipvsd run with mode nftables: %v\n%s", err, out)
	}
}

// writeConfig runs bin [sub] --config in --write-config-to out and
// decodes what it wrote.
func writeConfig(t *testing.T, bin, in, out string, sub ...string) proxyconfig.Config {
	t.Helper()
	args := append(sub, "--config", in, "--write-config-to", out)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, b)
	}
	c, err := proxyconfig.ReadFile(out)
	if err != nil {
		t.Fatalf("reading what %s wrote: %v", filepath.Base(bin), err)
	}
	return c
}

// sameMeaning clears what differs in spelling only: kube-proxy writes out
// the ClusterCIDR local mode and its logging defaults, and fills settings
// of its other modes; ipvsd writes the rr scheduler it uses for "", and
// its own extension, which kube-proxy drops.
func sameMeaning(c proxyconfig.Config) proxyconfig.Config {
	k := &c.KubeProxyConfiguration
	if k.DetectLocalMode == "" {
		k.DetectLocalMode = proxyconfig.LocalModeClusterCIDR
	}
	if k.IPVS.Scheduler == "" {
		k.IPVS.Scheduler = "rr"
	}
	k.Logging = proxyconfig.Config{}.Logging
	k.IPTables.LocalhostNodePorts = nil
	k.NFTables = proxyconfig.Config{}.NFTables
	c.IPVSD = proxyconfig.Extension{}
	return c
}

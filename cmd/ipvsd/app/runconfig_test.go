package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ipvsd/ipvsd/controller/proxyconfig"
)

// runFlags parses args with `ipvsd run`'s flags.
func runFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	cmd := newRun()
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return cmd.Flags()
}

func TestLoadFileThenFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	file := `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: /etc/kube.conf}
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
ipvs: {scheduler: wlc, strictARP: true, syncPeriod: 45s}
nftables: {syncPeriod: 5s}
ipvsd: {interface: lb0}
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadRunConfig(path, runFlags(t, "--ipvs-scheduler=sh", "--hostname-override=Node-A", "--ipvs-sync-period=45s"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientConnection.Kubeconfig != "/etc/kube.conf" || got.IPVS.Scheduler != "sh" || !got.IPVS.StrictARP ||
		got.IPVS.SyncPeriod.Duration != 45*time.Second || got.HostnameOverride != "Node-A" || got.IPVSD.Interface != "lb0" {
		t.Errorf("merged config: %+v", got.Config)
	}
	// Only flags that change the file's value are worth a log line.
	if len(got.overrides) != 2 || !strings.HasPrefix(got.overrides[0], "--hostname-override=Node-A") || !strings.HasPrefix(got.overrides[1], "--ipvs-scheduler=sh (file: wlc)") {
		t.Errorf("overrides %q", got.overrides)
	}
	if len(got.ignored) != 1 || got.ignored[0] != "nftables" {
		t.Errorf("ignored %q", got.ignored)
	}
}

func TestLoadWithoutFileIsKubeProxyDefaults(t *testing.T) {
	got, err := loadRunConfig("", runFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := proxyconfig.Default(); !cmp.Equal(got.Config, want) || got.HealthzBindAddress != "0.0.0.0:10256" || got.MetricsBindAddress != "127.0.0.1:10249" {
		t.Errorf("defaults: %+v", got.Config)
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	for name, file := range map[string]string{
		"old ipvsd format":  "clusterCIDR: 10.0.0.0/8\nsyncPeriod: 60s\n",
		"iptables mode":     "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n",
		"flag value broken": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadRunConfig(path, runFlags(t, "--ipvs-scheduler=fastest")); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
	if _, err := loadRunConfig(filepath.Join(dir, "missing.yaml"), runFlags(t)); err == nil {
		t.Error("missing file accepted")
	}
}

// TestWriteConfigTo: what --write-config-to writes, --config reads back
// to the same configuration.
func TestWriteConfigTo(t *testing.T) {
	c, err := loadRunConfig("", runFlags(t, "--ipvs-scheduler=mh", "--cluster-cidr=10.1.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.yaml")
	if err := writeRunConfig(c.Config, path); err != nil {
		t.Fatal(err)
	}
	back, err := loadRunConfig(path, runFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if back.IPVS.Scheduler != "mh" || back.ClusterCIDR != "10.1.0.0/16" || len(back.ignored) != 0 {
		t.Errorf("read back: scheduler %q, cluster CIDR %q, ignored %v", back.IPVS.Scheduler, back.ClusterCIDR, back.ignored)
	}
}

// The shipped ConfigMap must hold a file Load accepts.
func TestManifestConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../../../manifests/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadRunConfig(path, runFlags(t))
	if err != nil {
		t.Errorf("manifests/configmap.yaml: %v", err)
	}
	if len(c.ignored) != 0 {
		t.Errorf("manifests/configmap.yaml sets ignored fields %v", c.ignored)
	}
}

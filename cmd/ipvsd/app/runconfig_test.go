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
)

func TestLoadFileThenFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	file := `
kubeconfig: /etc/kube.conf
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
nodePortAddresses: [192.168.0.0/16]
ipvs:
  scheduler: wlc
  strictARP: true
syncPeriod: 30s
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := defaultRunConfig()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	bindRunFlags(fs, &cfg)
	if err := fs.Parse([]string{"--ipvs-scheduler=sh", "--nodeport-addresses=10.0.0.0/8,fd00::/64", "--hostname-override=Node-A"}); err != nil {
		t.Fatal(err)
	}
	got, err := loadRunConfig(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultRunConfig()
	want.Kubeconfig = "/etc/kube.conf"
	want.ClusterCIDR = "10.244.0.0/16,fd00:10:244::/56"
	want.NodePortAddresses = []string{"10.0.0.0/8", "fd00::/64"}
	want.IPVS.Scheduler, want.IPVS.StrictARP = "sh", true
	want.SyncPeriod.Duration = 30 * time.Second
	want.HostnameOverride = "Node-A"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	c := defaultRunConfig()
	c.ClusterCIDR = "10.0.0.0/33"
	c.NodePortAddresses = []string{"nope"}
	c.IPVS.Scheduler = "fastest"
	c.SyncPeriod.Duration = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"cluster CIDR", "node-port address", "fastest", "sync periods"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := loadRunConfig(filepath.Join(t.TempDir(), "missing.yaml"), pflag.NewFlagSet("x", pflag.ContinueOnError)); err == nil {
		t.Error("missing file accepted")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

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
	if _, err := loadRunConfig(path, pflag.NewFlagSet("run", pflag.ContinueOnError)); err != nil {
		t.Errorf("manifests/configmap.yaml: %v", err)
	}
}

//go:build lab

package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

// kernelConfig is a kube-proxy configuration file setting every kernel
// setting kube-proxy's IPVS mode makes, to values no kernel has by
// default, with a short full-resync period so repairs show quickly.
const kernelConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
ipvs:
  syncPeriod: 3s
  strictARP: true
  tcpTimeout: 901s
  tcpFinTimeout: 31s
  udpTimeout: 61s
conntrack:
  maxPerCore: 1
  min: 200000
  tcpEstablishedTimeout: 7201s
  tcpCloseWaitTimeout: 1801s
  tcpBeLiberal: true
  udpTimeout: 33s
  udpStreamTimeout: 121s
oomScoreAdj: -998
nftables: {syncPeriod: 5s}
`

// TestKernelSettings runs `ipvsd run --config` with kube-proxy's file and
// checks, on the real kernel, every setting it names: the IPVS timeouts
// as `ipvsadm -L --timeout` shows them, the conntrack table and timeouts,
// strict ARP and the process's oom_score_adj; then changes some by hand
// and sees them repaired at the next full resync, with old and new value
// in the log.
func TestKernelSettings(t *testing.T) {
	admin := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	guestutil.EnsureNode(t, admin, nodeName, nodeIP, testNS)
	path := filepath.Join(t.TempDir(), "kube-proxy.yaml")
	if err := os.WriteFile(path, []byte(kernelConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startIPVSD(t, "--config="+path)

	wantSysctls := map[string]string{
		"net/netfilter/nf_conntrack_max":                     "200000",
		"net/netfilter/nf_conntrack_tcp_timeout_established": "7201",
		"net/netfilter/nf_conntrack_tcp_timeout_close_wait":  "1801",
		"net/netfilter/nf_conntrack_tcp_be_liberal":          "1",
		"net/netfilter/nf_conntrack_udp_timeout":             "33",
		"net/netfilter/nf_conntrack_udp_timeout_stream":      "121",
		"net/ipv4/conf/all/arp_ignore":                       "1",
		"net/ipv4/conf/all/arp_announce":                     "2",
	}
	const wantTimeouts = "Timeout (tcp tcpfin udp): 901 31 61"
	check := func() string {
		d.check(t)
		for name, want := range wantSysctls {
			if got := readTrim(t, "/proc/sys/"+name); got != want {
				return fmt.Sprintf("%s = %s, want %s", name, got, want)
			}
		}
		// A quarter of the table, raised and never lowered.
		if h, _ := strconv.Atoi(readTrim(t, "/sys/module/nf_conntrack/parameters/hashsize")); h < 50000 {
			return fmt.Sprintf("conntrack hashsize %d, want at least 50000", h)
		}
		if out := guestutil.Run(t, "ipvsadm", "-L", "--timeout"); !strings.Contains(out, wantTimeouts) {
			return fmt.Sprintf("ipvsadm -L --timeout: %q, want %q", out, wantTimeouts)
		}
		return ""
	}
	guestutil.Eventually(t, 30*time.Second, check)
	if got := readTrim(t, fmt.Sprintf("/proc/%d/oom_score_adj", d.pid)); got != "-998" {
		t.Errorf("oom_score_adj %s, want -998", got)
	}

	// By hand, as an operator or another agent would.
	guestutil.Run(t, "sysctl", "-w", "net.ipv4.conf.all.arp_ignore=0")
	guestutil.Run(t, "sysctl", "-w", "net.netfilter.nf_conntrack_udp_timeout=30")
	guestutil.Run(t, "ipvsadm", "--set", "100", "0", "0")
	guestutil.Eventually(t, 30*time.Second, check)

	log := readTrim(t, d.log)
	for _, want := range []string{
		"changed sysctl", `"net.ipv4.conf.all.arp_ignore"`, `"old": "0"`,
		"changed IPVS timeouts", `"old": "tcp 1m40s tcpfin 31s udp 1m1s"`,
		"config fields with no meaning for an IPVS proxy", "nftables",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not say %s", want)
		}
	}
}

func readTrim(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

//go:build lab

package benchreport

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/ipvs"
)

const (
	// ServicesFile lists "NAME CLUSTERIP" of the Services the host made.
	ServicesFile = "/lab/bench/services.txt"
	nodeName     = "lab"
	clusterCIDR  = "10.244.0.0/16"
	healthzURL   = "http://127.0.0.1:10256/healthz"
	kubeMetrics  = "http://127.0.0.1:10249/metrics"
	// targetPort is the endpoints' port (the Services listen on 80).
	targetPort = 8080
)

// service is one of the host's Services.
type service struct {
	name string
	vip  netip.Addr
}

// TestKube: `ipvsd run` with kube-proxy's identity and flags, started
// after the host created every Service and EndpointSlice; then one
// EndpointSlice update at a time (endpoint 0 gets a new address), each
// timed from the API write until the kernel has the new real server.
func TestKube(t *testing.T) {
	r := runFromEnv(t)
	svcs := readServices(t, r.services)
	c := bulkClient(t)
	h := openIPVS(t)
	cmd := exec.Command("ipvsd", append(ipvsdRunArgs(), traceArgs()...)...)
	cmd.Env = traceEnv()
	d := startCmd(t, "ipvsd", cmd)
	measureKube(t, benchreport.Kube, d, h, c, svcs, r, 0, func() bool { return guestutil.HTTPOK(healthzURL) })
	d.stop(t)
	restoreFloor(t, benchreport.Kube, r.services)
	// Leave an empty node for TestKubeProxy: what ipvsd made, and only it.
	if out, err := exec.Command("ipvsd", "cleanup").CombinedOutput(); err != nil {
		t.Fatalf("ipvsd cleanup: %v\n%s", err, out)
	}
}

// TestKubeProxy: the real kube-proxy v1.35.4 in IPVS mode, the reference,
// measured the same way after TestKube (changes continue where its
// stopped, so each one is a change). Its IPVS proxier always syncs in
// full, and only once it has every Service and EndpointSlice: its first
// counted sync is its cold start.
func TestKubeProxy(t *testing.T) {
	r := runFromEnv(t)
	svcs := readServices(t, r.services)
	c := bulkClient(t)
	h := openIPVS(t)
	d := start(t, "kube-proxy", kubeProxyArgs("ipvs")...)
	measureKube(t, benchreport.KubeProxy, d, h, c, svcs, r, r.changes, func() bool {
		v, ok := metric(kubeMetrics, "kubeproxy_sync_proxy_rules_duration_seconds_count")
		return ok && v >= 1
	})
}

// ipvsdRunArgs are `ipvsd run` with kube-proxy's identity and flags.
func ipvsdRunArgs() []string {
	return append([]string{"run", "--kubeconfig=" + apiserver.GuestProxyKubeconfig,
		"--hostname-override=" + nodeName, "--cluster-cidr=" + clusterCIDR,
		"--healthz-bind-address=127.0.0.1:10256", "--metrics-bind-address=127.0.0.1:10249"}, syncPeriodArgs()...)
}

// syncPeriodArgs set both daemons' full resync period from
// BENCH_SYNC_PERIOD_SECONDS (unset: their default), so that a run can
// make the first periodic full resync fall among the changes.
func syncPeriodArgs() []string {
	v := os.Getenv("BENCH_SYNC_PERIOD_SECONDS")
	if v == "" || v == "0" {
		return nil
	}
	return []string{"--ipvs-sync-period=" + v + "s"}
}

// kubeProxyArgs are the real kube-proxy's flags in mode (ipvs, nftables)
// for the same node, API server and ports as ipvsdRunArgs. The conntrack
// settings are 0, which leaves the kernel's as they are.
func kubeProxyArgs(mode string) []string {
	return append([]string{"--proxy-mode=" + mode, "--kubeconfig=" + apiserver.GuestProxyKubeconfig,
		"--hostname-override=" + nodeName, "--cluster-cidr=" + clusterCIDR,
		"--healthz-bind-address=127.0.0.1:10256", "--metrics-bind-address=127.0.0.1:10249",
		"--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0", "--v=1"}, syncPeriodArgs()...)
}

// measureKube prints the cold start (until ready holds), the changes
// numbered from k0, idle CPU, peak RSS and, for ipvsd, the writes.
func measureKube(t *testing.T, mode string, d *proc, h *ipvs.Handle, c kubernetes.Interface, svcs []service, r run, k0 int, ready func() bool) {
	t.Helper()
	n := len(svcs)
	cold := d.waitFor(t, "programmed", r.coldTimeout, 250*time.Millisecond, ready)
	figure(mode, n, benchreport.KeyCold, cold.Seconds())
	requireRealServers(t, h, mode, n, n*benchreport.Backends)
	w0, err := scrape(kubeMetrics, "ipvsd_ipvs_netlink_writes_total")
	counted := err == nil
	if mode == benchreport.Kube && !counted {
		t.Fatalf("ipvsd run's writes counter: %v", err)
	}
	var traced changeSpans
	for k := k0; k < k0+r.changes; k++ {
		secs := changeEndpoint(t, d, h, c, svcs, k)
		figure(mode, n, benchreport.KeyChange, secs)
		if mode == benchreport.Kube {
			traced.add(k, secs)
		}
	}
	traced.report(t, d)
	if counted {
		w1 := mustMetric(t, kubeMetrics, "ipvsd_ipvs_netlink_writes_total")
		figure(mode, n, benchreport.KeyWritesChanges, w1-w0)
		if w1-w0 < float64(r.changes) {
			t.Errorf("%v IPVS writes for %d endpoint changes that each reached the kernel: the counter misses writes", w1-w0, r.changes)
		}
	}
	if mode == benchreport.Kube {
		afterFirstResync(t, d, kubeMetrics, r.coldTimeout)
	}
	d.idle(t, mode, n, r.idle)
	figure(mode, n, benchreport.KeyPeakRSS, d.peakRSSKiB(t))
}

// afterFirstResync waits for ipvsd's first periodic full resync (due
// ipvs.syncPeriod after the cold start) to end, so the idle window is the
// daemon's steady state, where full resyncs are spaced to take at most
// 1 % of the time; the wait's CPU, that resync's, goes to the log. With
// the default 30 s the resync fell into the window at 10,000 Services:
// 8.5 s of CPU under emulation, 14 % of it; in standalone mode at 10,000
// services (60 s), 12.9 %. metrics is the daemon's /metrics URL.
func afterFirstResync(t *testing.T, d *proc, metrics string, timeout time.Duration) {
	t.Helper()
	const count = "ipvsd_full_resync_duration_seconds_count"
	c0, t0 := d.cpuTicks(t), time.Now()
	d.waitFor(t, "through its first periodic full resync", timeout, 5*time.Second, func() bool {
		v, ok := metric(metrics, count)
		return ok && v >= 2 // the cold start, then the first periodic one
	})
	sum := mustMetric(t, metrics, "ipvsd_full_resync_duration_seconds_sum")
	t.Logf("ipvsd: first periodic full resync over after %s more (%.0f ticks of CPU); full resyncs so far took %.2f s in all",
		time.Since(t0).Round(time.Second), d.cpuTicks(t)-c0, sum)
}

// changeEndpoint gives endpoint 0 of service k%n a new address and
// returns the seconds from the API write to the new real server taking
// connections in the kernel.
func changeEndpoint(t *testing.T, d *proc, h *ipvs.Handle, c kubernetes.Interface, svcs []service, k int) float64 {
	t.Helper()
	n := len(svcs)
	s := svcs[k%n]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slice, err := c.DiscoveryV1().EndpointSlices(benchreport.Namespace).Get(ctx, s.name+"-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eps := make([]apiserver.Endpoint, benchreport.Backends)
	for j := range eps {
		eps[j] = apiserver.Endpoint{IP: benchreport.EndpointIP(k%n, j).String(), Node: "other"}
	}
	next := benchreport.ReplacementIP(k, n)
	eps[0].IP = next.String()
	apiserver.SetEndpoints(slice, eps)
	t0 := time.Now()
	if _, err := c.DiscoveryV1().EndpointSlices(benchreport.Namespace).Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	key := tcpKey(netip.AddrPortFrom(s.vip, 80))
	dest := netip.AddrPortFrom(next, targetPort)
	return waitChange(t, d, t0, func() bool { return hasDest(h, key, dest, func(w int) bool { return w > 0 }) })
}

// readServices reads the host's list; service i is line i.
func readServices(t *testing.T, want int) []service {
	t.Helper()
	f, err := os.Open(ServicesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []service
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, ip, ok := strings.Cut(sc.Text(), " ")
		vip, err := netip.ParseAddr(ip)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q", ServicesFile, sc.Text())
		}
		out = append(out, service{name, vip})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != want {
		t.Fatalf("%s lists %d services, BENCH_SERVICES says %d", ServicesFile, len(out), want)
	}
	return out
}

// bulkClient is the admin's client without client-go's 5 requests a
// second, which would delay the writes being timed.
func bulkClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", apiserver.GuestAdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(fmt.Errorf("client from %s: %w", apiserver.GuestAdminKubeconfig, err))
	}
	return c
}

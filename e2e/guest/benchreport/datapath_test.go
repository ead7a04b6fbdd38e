//go:build lab

package benchreport

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

const (
	// dpWarmup rounds (one connection per target) come before the
	// measured ones: the first connections also fill neighbour and route
	// caches.
	dpWarmup = 100
	// dpConnTimeout bounds one connection; a SYN lost on the loaded,
	// emulated CPU is retried after a second and only makes an outlier.
	dpConnTimeout = 30 * time.Second
	// dpFirstPort is the first source port of the client loop, whose
	// targets take blocks of their own below the ephemeral range (32768
	// on): a direct connection must not meet an earlier ClusterIP one's
	// IPVS entry in TIME_WAIT.
	dpFirstPort = 10000
	// clockTicks is USER_HZ, the unit of /proc/PID/stat's times.
	clockTicks = 100
)

// TestDataPath: `ipvsd run` on node A and the real kube-proxy v1.35.4 in
// nftables mode on node B, two network namespaces of this VM, started
// together against the same API server and the same Services and
// EndpointSlices. Once both kernels hold every Service, connection setup
// from each node's client pod through Service 0's ClusterIP and straight
// to its first endpoint, interleaved A-ClusterIP, B-ClusterIP, A-direct,
// B-direct round after round, so both proxies' connections meet the same
// moments of the shared host's load. BENCH_DP_KUBE_PROXY=0 runs node A
// alone (kube-proxy nftables did not finish its first sync of 10,000
// Services in 20 minutes).
func TestDataPath(t *testing.T) {
	r := runFromEnv(t)
	conns := envInt(t, "BENCH_DP_CONNS", 2000)
	svcs := readServices(t, r.services)
	n := len(svcs)
	nodes := []*dpNode{newDPNode(t, benchreport.Kube, "dp-a")}
	if os.Getenv("BENCH_DP_KUBE_PROXY") != "0" {
		nodes = append(nodes, newDPNode(t, benchreport.KubeProxyNFT, "dp-b"))
	}
	targets := 2 * len(nodes)
	if dpFirstPort+targets*(dpWarmup+conns) > 32768 {
		t.Fatalf("BENCH_DP_CONNS=%d: %d targets x %d source ports from %d reach the ephemeral range (32768); at most %d", conns, targets, dpWarmup+conns, dpFirstPort, (32768-dpFirstPort)/targets-dpWarmup)
	}
	for _, nd := range nodes {
		nd.startProxy(t)
	}
	waitProgrammed(t, nodes, n, r.coldTimeout)
	for _, nd := range nodes {
		nd.onlyItsProxy(t)
	}
	measureDataPath(t, nodes, svcs, conns)
	for _, nd := range nodes {
		nd.logRules(t)
	}
}

// measureDataPath runs the client loop against Service 0's ClusterIP and
// its first endpoint from every node's client pod, and prints each
// proxy's data-path figures at len(svcs) Services.
func measureDataPath(t *testing.T, nodes []*dpNode, svcs []service, conns int) {
	t.Helper()
	n := len(svcs)
	cluster := netip.AddrPortFrom(svcs[0].vip, 80).String()
	direct := netip.AddrPortFrom(benchreport.EndpointIP(0, 0), targetPort).String()
	var targets []nettest.Target
	for _, addr := range []string{cluster, direct} {
		for _, nd := range nodes {
			targets = append(targets, nettest.Target{From: nd.client, Addr: addr})
		}
	}
	c0 := make([]float64, len(nodes))
	for i, nd := range nodes {
		c0[i] = nd.proc.cpuTicks(t)
	}
	t0 := time.Now()
	setups, err := nettest.SetupLoopFrom(targets, dpWarmup, conns, dpFirstPort, dpConnTimeout)
	if err != nil {
		t.Fatalf("at %d Services: %v", n, err)
	}
	took := time.Since(t0)
	t.Logf("at %d Services: %d connections to each of %s and %s from each of %d nodes in %s", n, conns+dpWarmup, cluster, direct, len(nodes), took.Round(time.Millisecond))
	for i, nd := range nodes {
		cpu := 100 * (nd.proc.cpuTicks(t) - c0[i]) / clockTicks / took.Seconds()
		nd.proc.alive(t)
		cl, di := setups[i], setups[len(nodes)+i]
		checkBackends(t, nd.mode, cl, di)
		dp := benchreport.DataPath{Ready: nd.ready.Seconds(), ProxyCPU: cpu, SideBySide: len(nodes) > 1, Cluster: summarize(cl), Direct: summarize(di)}
		for _, l := range benchreport.DataPathLines(nd.mode, n, dp) {
			fmt.Println(l)
		}
	}
}

// checkBackends requires the ClusterIP's connections to have reached
// every endpoint of the Service and only those (the proxy balanced and
// translated them), and the direct ones the first endpoint alone.
func checkBackends(t *testing.T, mode string, cluster, direct []nettest.Setup) {
	t.Helper()
	seen := map[string]int{}
	for _, s := range cluster {
		seen[s.Greeting]++
	}
	want := map[string]bool{}
	for j := range benchreport.Backends {
		want[benchreport.EndpointIP(0, j).String()] = true
	}
	for a := range want {
		if seen[a] == 0 {
			t.Errorf("%s: no connection through the ClusterIP reached endpoint %s (seen: %v)", mode, a, seen)
		}
	}
	for a := range seen {
		if !want[a] {
			t.Errorf("%s: a connection through the ClusterIP reached %s, not an endpoint (seen: %v)", mode, a, seen)
		}
	}
	for _, s := range direct {
		if s.Greeting != benchreport.EndpointIP(0, 0).String() {
			t.Fatalf("%s: a direct connection to %s was answered by %s", mode, benchreport.EndpointIP(0, 0), s.Greeting)
		}
	}
}

// summarize is the figures of one path's setups.
func summarize(ss []nettest.Setup) benchreport.Path {
	first := make([]float64, len(ss))
	var total float64
	for i, s := range ss {
		first[i], total = s.FirstByte.Seconds(), total+s.Total.Seconds()
	}
	return benchreport.Summarize(first, total)
}

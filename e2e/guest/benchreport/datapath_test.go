//go:build lab

package benchreport

import (
	"fmt"
	"net/netip"
	"os"
	"syscall"
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
	// The paused loop's targets take source ports after the others'.
	targets := 2 * 2 * len(nodes)
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
	next := measureDataPath(t, nodes, svcs, conns)
	measurePaused(t, nodes, svcs, conns, next)
	for _, nd := range nodes {
		nd.logRules(t)
	}
}

// measureDataPath runs the client loop against Service 0's ClusterIP and
// its first endpoint from every node's client pod, and prints each
// proxy's data-path figures at len(svcs) Services. It returns the first
// source port it left unused.
func measureDataPath(t *testing.T, nodes []*dpNode, svcs []service, conns int) int {
	t.Helper()
	targets := dpTargets(nodes, svcs)
	setups, cpu := clientLoop(t, nodes, targets, len(svcs), conns, dpFirstPort)
	for i, nd := range nodes {
		cl, di := setups[i], setups[len(nodes)+i]
		checkBackends(t, nd.mode, cl, di)
		dp := benchreport.DataPath{Ready: nd.ready.Seconds(), ProxyCPU: cpu[i], SideBySide: len(nodes) > 1, Cluster: summarize(cl), Direct: summarize(di)}
		for _, l := range benchreport.DataPathLines(nd.mode, len(svcs), dp) {
			fmt.Println(l)
		}
	}
	return dpFirstPort + len(targets)*(dpWarmup+conns)
}

// measurePaused runs the same loop again with ipvsd (node A's proxy)
// stopped (SIGSTOP, SIGCONT after), from source ports firstPort on, and
// prints node A's figures. The kernel keeps every virtual server, real
// server and rule, so what differs from the running row is the daemon's
// own CPU competing with the client for the VM's emulated vCPUs, not the
// kernel's data path. The loop keeps every node's targets, as the first
// had: a loop over fewer targets is faster by itself. It runs after the
// first loop, under whatever load the host has then: the direct path
// measured beside it is the check.
func measurePaused(t *testing.T, nodes []*dpNode, svcs []service, conns, firstPort int) {
	t.Helper()
	nd := nodes[0]
	if err := nd.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping %s: %v", nd.proc.name, err)
	}
	defer func() {
		if err := nd.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Errorf("resuming %s: %v", nd.proc.name, err)
		}
	}()
	setups, cpu := clientLoop(t, nodes, dpTargets(nodes, svcs), len(svcs), conns, firstPort)
	checkBackends(t, benchreport.KubePaused, setups[0], setups[len(nodes)])
	dp := benchreport.DataPath{ProxyCPU: cpu[0], Cluster: summarize(setups[0]), Direct: summarize(setups[len(nodes)])}
	for _, l := range benchreport.DataPathLines(benchreport.KubePaused, len(svcs), dp) {
		fmt.Println(l)
	}
}

// dpTargets are the loop's targets: from every node's client pod,
// Service 0's ClusterIP, then from every node its first endpoint's pod
// address.
func dpTargets(nodes []*dpNode, svcs []service) []nettest.Target {
	var targets []nettest.Target
	for _, addr := range []netip.AddrPort{netip.AddrPortFrom(svcs[0].vip, 80), netip.AddrPortFrom(benchreport.EndpointIP(0, 0), targetPort)} {
		for _, nd := range nodes {
			targets = append(targets, nettest.Target{From: nd.client, Addr: addr.String()})
		}
	}
	return targets
}

// clientLoop runs the client loop over targets from source ports
// firstPort on and returns each target's setups and each node's proxy
// CPU over the loop, in percent of a core.
func clientLoop(t *testing.T, nodes []*dpNode, targets []nettest.Target, n, conns, firstPort int) ([][]nettest.Setup, []float64) {
	t.Helper()
	c0 := make([]float64, len(nodes))
	for i, nd := range nodes {
		c0[i] = nd.proc.cpuTicks(t)
	}
	t0 := time.Now()
	setups, err := nettest.SetupLoopFrom(targets, dpWarmup, conns, firstPort, dpConnTimeout)
	if err != nil {
		t.Fatalf("at %d Services: %v", n, err)
	}
	took := time.Since(t0)
	t.Logf("at %d Services: %d connections to each of %d targets in %s", n, conns+dpWarmup, len(targets), took.Round(time.Millisecond))
	cpu := make([]float64, len(nodes))
	for i, nd := range nodes {
		cpu[i] = 100 * (nd.proc.cpuTicks(t) - c0[i]) / clockTicks / took.Seconds()
		nd.proc.alive(t)
	}
	return setups, cpu
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

//go:build lab

package benchreport

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

const (
	// dpWarmup rounds (one connection each way) come before the measured
	// ones: the first connections also fill neighbour and route caches.
	dpWarmup = 100
	// dpConnTimeout bounds one connection; a SYN lost on the loaded,
	// emulated CPU is retried after a second and only makes an outlier.
	dpConnTimeout = 30 * time.Second
	// dpBackendHost is the node's side of the backend pod's veth:
	// 10.16.0.254 is a spare address of Service 15 (EndpointIP(15, 13)),
	// in no EndpointSlice of a data-path run, which makes no changes.
	dpBackendHost = "10.16.0.254"
	// dpFirstPort is the first source port of the client's loops, which
	// take blocks of their own below the ephemeral range (32768 on): the
	// second proxy's connections must not meet the first's in TIME_WAIT.
	dpFirstPort = 10000
	// clockTicks is USER_HZ, the unit of /proc/PID/stat's times.
	clockTicks = 100
)

// dataPathNet is the measured Service's pods: one namespace holding the
// ten endpoint addresses of Service 0, greeting each connection with the
// address it reached, and a client pod.
type dataPathNet struct {
	backend, client *nettest.Peer
}

func newDataPathNet(t *testing.T) *dataPathNet {
	t.Helper()
	// The node routes between its pods, as a CNI plugin would have it.
	guestutil.SetSysctl(t, "net/ipv4/ip_forward", "1")
	be := nettest.NewPeer(t, "dp-be", benchreport.EndpointIP(0, 0).String(), dpBackendHost)
	var more []net.IP
	for j := 1; j < benchreport.Backends; j++ {
		more = append(more, benchreport.EndpointIP(0, j).AsSlice())
	}
	be.AddAddrs(t, more...)
	be.ServeTCPLocalAddr(t, targetPort)
	return &dataPathNet{backend: be, client: nettest.NewPeer(t, "dp-cli", "10.244.9.2", "10.244.9.1")}
}

// TestDataPath: with every Service the host made programmed, connection
// setup from a client pod through Service 0's ClusterIP and, interleaved,
// straight to its first endpoint; first by `ipvsd run`, then, after
// `ipvsd cleanup`, by the real kube-proxy v1.35.4 in nftables mode against
// the same objects. Each proxy's clock runs from its start until the
// kernel holds every Service.
func TestDataPath(t *testing.T) {
	r := runFromEnv(t)
	conns := envInt(t, "BENCH_DP_CONNS", 2000)
	block := 2 * (dpWarmup + conns) // source ports of one proxy's loop
	if dpFirstPort+2*block > 32768 {
		t.Fatalf("BENCH_DP_CONNS=%d: two loops of %d source ports from %d reach the ephemeral range (32768); at most %d", conns, block, dpFirstPort, (32768-dpFirstPort)/4-dpWarmup)
	}
	svcs := readServices(t, r.services)
	n := len(svcs)
	dn := newDataPathNet(t)
	h := openIPVS(t)

	d := start(t, "ipvsd", ipvsdRunArgs()...)
	ready := d.waitFor(t, "programmed", r.coldTimeout, 250*time.Millisecond, func() bool {
		return guestutil.HTTPOK(healthzURL) && realServers(t, h) >= n*benchreport.Backends
	})
	measureDataPath(t, benchreport.Kube, d, ready, dn, svcs, conns, dpFirstPort)
	d.stop(t)
	if out, err := exec.Command("ipvsd", "cleanup").CombinedOutput(); err != nil {
		t.Fatalf("ipvsd cleanup: %v\n%s", err, out)
	}
	// Else IPVS, not nftables, could answer kube-proxy's ClusterIP.
	if left, err := h.Dump(); err != nil || len(left) != 0 {
		t.Fatalf("after ipvsd cleanup the kernel holds %d virtual servers (%v)", len(left), err)
	}

	kp := start(t, "kube-proxy", kubeProxyArgs("nftables")...)
	ready = kp.waitFor(t, "programmed", r.coldTimeout, time.Second, func() bool {
		v, ok := metric(kubeMetrics, "kubeproxy_sync_proxy_rules_duration_seconds_count")
		return ok && v >= 1 && nftServiceIPs() >= n
	})
	measureDataPath(t, benchreport.KubeProxyNFT, kp, ready, dn, svcs, conns, dpFirstPort+block)
}

// nftServiceIPs counts the ClusterIP:port entries of kube-proxy's
// service-ips map (each jumps to its Service's chain); 0 before kube-proxy
// made its table.
func nftServiceIPs() int {
	out, err := exec.Command("nft", "list", "map", "ip", "kube-proxy", "service-ips").Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), "goto service-")
}

// measureDataPath runs the client loop against Service 0's ClusterIP
// and its first endpoint from source ports firstPort on, with the proxy p
// running, and prints the data-path figures of mode at len(svcs) Services.
func measureDataPath(t *testing.T, mode string, p *proc, ready time.Duration, dn *dataPathNet, svcs []service, conns, firstPort int) {
	t.Helper()
	n := len(svcs)
	cluster := netip.AddrPortFrom(svcs[0].vip, 80).String()
	direct := netip.AddrPortFrom(benchreport.EndpointIP(0, 0), targetPort).String()
	c0, t0 := p.cpuTicks(t), time.Now()
	setups, err := dn.client.SetupLoop([]string{cluster, direct}, dpWarmup, conns, firstPort, dpConnTimeout)
	if err != nil {
		t.Fatalf("%s at %d Services: %v", mode, n, err)
	}
	took := time.Since(t0)
	cpu := 100 * (p.cpuTicks(t) - c0) / clockTicks / took.Seconds()
	p.alive(t)
	t.Logf("%s at %d Services: %d connections each way to %s and %s in %s", mode, n, conns+dpWarmup, cluster, direct, took.Round(time.Millisecond))
	checkBackends(t, mode, setups[0], setups[1])
	dp := benchreport.DataPath{Ready: ready.Seconds(), ProxyCPU: cpu, Cluster: summarize(setups[0]), Direct: summarize(setups[1])}
	for _, l := range benchreport.DataPathLines(mode, n, dp) {
		fmt.Println(l)
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

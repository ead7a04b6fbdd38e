//go:build lab

package benchreport

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

const (
	// dpBackendHost is the node's side of the backend pod's veth:
	// 10.16.0.254 is a spare address of Service 15 (EndpointIP(15, 13)),
	// in no EndpointSlice of a data-path run, which makes no changes.
	dpBackendHost = "10.16.0.254"
	dpClient      = "10.244.9.2" // the client pod, inside the cluster CIDR: neither proxy masquerades it
	dpClientHost  = "10.244.9.1"
)

// dpNode is one node of the side-by-side run: a network namespace that
// one proxy programs (IPVS, netfilter and routes are per namespace),
// routing for a client pod and a backend pod of its own. The backend
// holds the ten endpoint addresses of Service 0 and greets each
// connection with the address it reached; every node has the same
// addresses, which is possible since nothing joins the nodes.
type dpNode struct {
	mode            string
	ns              *nettest.NS
	client, backend *nettest.NS
	// kubeconfig reaches the API server through a forwarder on the
	// node's loopback (guestutil.ForwardAPI): no route or NAT rule of
	// the test sits in the node's netfilter beside the proxy's.
	kubeconfig string
	http       *http.Client // for the proxy's healthz and metrics, from inside the node
	ipvs       *ipvs.Handle // the node's IPVS table
	proc       *proc
	ready      time.Duration // from the proxy's start until the kernel held every Service
}

func newDPNode(t *testing.T, mode, name string) *dpNode {
	t.Helper()
	ns := nettest.NewNS(t, name)
	// The node routes between its pods, as a CNI plugin would have it.
	// /proc/sys/net is that of the opening thread's namespace.
	if err := ns.Do(func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) }); err != nil {
		t.Fatalf("ip_forward in %s: %v", name, err)
	}
	be := nettest.NewNS(t, name+"-be")
	nettest.Link(t, ns, "vbe", dpBackendHost+"/24", be, "eth0", benchreport.EndpointIP(0, 0).String()+"/24")
	be.DefaultRoute(t, dpBackendHost)
	for j := 1; j < benchreport.Backends; j++ {
		if err := be.AddAddress("eth0", benchreport.EndpointIP(0, j).String()+"/32"); err != nil {
			t.Fatalf("endpoint address in %s: %v", be.Name, err)
		}
	}
	be.ServeTCPLocalAddr(t, targetPort)
	cli := nettest.NewNS(t, name+"-cli")
	nettest.Link(t, ns, "vcli", dpClientHost+"/24", cli, "eth0", dpClient+"/24")
	cli.DefaultRoute(t, dpClientHost)
	h, err := ipvs.New("/run/netns/" + name)
	if err != nil {
		t.Fatalf("IPVS of %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	return &dpNode{mode: mode, ns: ns, client: cli, backend: be, kubeconfig: guestutil.ForwardAPI(t, ns),
		http: ns.HTTPClient(5 * time.Second), ipvs: h}
}

// startProxy starts the node's proxy: `ipvsd run` or the real kube-proxy
// in nftables mode, with kube-proxy's identity and flags for node "lab".
func (nd *dpNode) startProxy(t *testing.T) {
	t.Helper()
	if nd.mode == benchreport.Kube {
		nd.proc = startIn(t, nd.ns, "ipvsd", withKubeconfig(ipvsdRunArgs(), nd.kubeconfig)...)
		return
	}
	nd.proc = startIn(t, nd.ns, "kube-proxy", withKubeconfig(kubeProxyArgs("nftables"), nd.kubeconfig)...)
}

// withKubeconfig is args with --kubeconfig pointing at path.
func withKubeconfig(args []string, path string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, "--kubeconfig=") {
			a = "--kubeconfig=" + path
		}
		out[i] = a
	}
	return out
}

// programmed reports whether the node's kernel holds all n Services:
// ipvsd answers /healthz and IPVS holds every real server; kube-proxy
// counted a sync and its service-ips map holds every ClusterIP.
func (nd *dpNode) programmed(t *testing.T, n int) bool {
	t.Helper()
	if nd.mode == benchreport.Kube {
		return nd.healthy() && realServers(t, nd.ipvs) >= n*benchreport.Backends
	}
	v, ok := metricVia(nd.http, kubeMetrics, "kubeproxy_sync_proxy_rules_duration_seconds_count")
	return ok && v >= 1 && nd.nftServiceIPs() >= n
}

func (nd *dpNode) healthy() bool {
	resp, err := nd.http.Get(healthzURL)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// nftServiceIPs counts the ClusterIP:port entries of kube-proxy's
// service-ips map in the node (each jumps to its Service's chain); 0
// before kube-proxy made its table.
func (nd *dpNode) nftServiceIPs() int {
	out, err := nd.ns.Command("nft", "list", "map", "ip", "kube-proxy", "service-ips").Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), "goto service-")
}

// onlyItsProxy fails t unless the node's ClusterIPs can only be its own
// proxy's: no IPVS virtual server on kube-proxy's node, no kube-proxy
// table on ipvsd's.
func (nd *dpNode) onlyItsProxy(t *testing.T) {
	t.Helper()
	if nd.mode == benchreport.Kube {
		if out, err := nd.ns.Command("nft", "list", "table", "ip", "kube-proxy").CombinedOutput(); err == nil {
			t.Fatalf("%s holds kube-proxy's nftables table:\n%s", nd.ns.Name, tail(string(out), 20))
		}
		return
	}
	if svcs, err := nd.ipvs.Dump(); err != nil || len(svcs) != 0 {
		t.Fatalf("%s, kube-proxy's node, holds %d IPVS virtual servers (%v)", nd.ns.Name, len(svcs), err)
	}
}

// waitProgrammed polls every node until its kernel holds all n Services
// and records each one's ready time; ipvsd every 250 ms, kube-proxy every
// second (its metrics are a long page), as when they ran alone.
func waitProgrammed(t *testing.T, nodes []*dpNode, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	next := make([]time.Time, len(nodes))
	for pending := len(nodes); pending > 0; time.Sleep(50 * time.Millisecond) {
		for i, nd := range nodes {
			if nd.ready > 0 || time.Now().Before(next[i]) {
				continue
			}
			nd.proc.alive(t)
			if nd.programmed(t, n) {
				nd.ready, pending = time.Since(nd.proc.started), pending-1
				t.Logf("%s: programmed %d Services after %s", nd.proc.name, n, nd.ready.Round(time.Millisecond))
				continue
			}
			next[i] = time.Now().Add(map[bool]time.Duration{true: 250 * time.Millisecond, false: time.Second}[nd.mode == benchreport.Kube])
		}
		if pending > 0 && time.Now().After(deadline) {
			t.Fatalf("not every proxy had programmed %d Services after %s", n, timeout)
		}
	}
}

// logRules logs the node's iptables rules with their packet counters
// (ipvsd's: which of them every packet of the node meets) and its
// nftables tables (kube-proxy's).
func (nd *dpNode) logRules(t *testing.T) {
	t.Helper()
	for _, c := range [][]string{{"iptables-save", "-c"}, {"nft", "list", "tables"}} {
		out, err := nd.ns.Command(c[0], c[1:]...).CombinedOutput()
		t.Logf("%s: %s (%v):\n%s", nd.ns.Name, strings.Join(c, " "), err, tail(string(out), 120))
	}
}

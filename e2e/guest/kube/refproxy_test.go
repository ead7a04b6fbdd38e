//go:build lab

package kube

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// refProxy is the real kube-proxy v1.35.4 (shipped by the host test onto
// the guest's PATH) in IPVS mode, run in a network namespace of its own.
// IPVS tables, iptables and ipsets are per namespace, so it programs the
// same Services beside ipvsd without either touching the other's state,
// and its table is the reference ipvsd's is compared with.
type refProxy struct {
	ns     *nettest.NS
	exited chan struct{}
	err    error
	log    string
}

// startRefProxy runs kube-proxy until t's cleanup (SIGTERM; its log is
// shown when t failed), as user system:kube-proxy, for this node.
func startRefProxy(t *testing.T) *refProxy {
	t.Helper()
	bin, err := exec.LookPath("kube-proxy")
	if err != nil {
		t.Fatalf("the real kube-proxy is not in the guest (the host test ships it): %v", err)
	}
	p := &refProxy{ns: nettest.NewNS(t, "kp-ref"), exited: make(chan struct{})}
	kubeconfig := guestutil.ForwardAPI(t, p.ns)
	logf, err := os.CreateTemp("", "kube-proxy-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p.log = logf.Name()
	// The conntrack settings are global or need the init namespace; 0
	// leaves them, as they change nothing this comparison reads.
	cmd := exec.Command("/sbin/ip", "netns", "exec", p.ns.Name, bin,
		"--proxy-mode=ipvs", "--kubeconfig="+kubeconfig, "--hostname-override="+nodeName,
		"--cluster-cidr="+clusterCIDR, "--healthz-bind-address=127.0.0.1:10256",
		"--metrics-bind-address=127.0.0.1:10249", "--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0", "--v=2")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kube-proxy: %v", err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("kube-proxy log:\n%s", tail(string(b), 80))
		}
	})
	return p
}

// check fails t at once when kube-proxy has died.
func (p *refProxy) check(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		b, _ := os.ReadFile(p.log)
		t.Fatalf("kube-proxy exited: %v\n%s", p.err, tail(string(b), 60))
	default:
	}
}

// virtualServer is kube-proxy's block of `ipvsadm -Ln` for proto vip:port.
func (p *refProxy) virtualServer(t testing.TB, proto, vipPort string) string {
	t.Helper()
	out, err := exec.Command("/sbin/ip", "netns", "exec", p.ns.Name, "ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln in %s: %v\n%s", p.ns.Name, err, out)
	}
	return listingBlock(string(out), proto, vipPort)
}

// topologyCases are hint sets tried at once, with this node in zone-a, on
// one Service each (trafficDistribution PreferClose), and the backends
// kube-proxy 1.35's rules give this node.
var topologyCases = []struct {
	name     string
	be1, be2 []string // hints.forZones
	want     []string
}{
	{"same-zone", []string{"zone-a"}, []string{"zone-b"}, []string{"be1"}},
	{"no-hints", nil, nil, []string{"be1", "be2"}},
	{"one-unhinted", []string{"zone-a"}, nil, []string{"be1", "be2"}},
	{"two-zones", []string{"zone-a"}, []string{"zone-b", "zone-a"}, []string{"be1", "be2"}},
	{"none-for-zone", []string{"zone-b"}, []string{"zone-c"}, []string{"be1", "be2"}},
}

// topologyAgreesWithKubeProxy: the real kube-proxy, started once every
// case's Service and hints are in place and the node is in zone-a, makes
// the same choice as ipvsd for each: after its first full sync (from an
// empty table of its own, so nothing it shows is left from an earlier
// state) the real servers of each virtual server are exactly ipvsd's.
func (e *env) topologyAgreesWithKubeProxy(t *testing.T) {
	setNodeZone(t, e, "zone-a")
	t.Cleanup(func() { setNodeZone(t, e, "") })
	prefer := corev1.ServiceTrafficDistributionPreferClose
	vips := map[string]string{}
	for _, c := range topologyCases {
		svc := e.service(t, "cov-kp-"+c.name, func(s *corev1.Service) { s.Spec.TrafficDistribution = &prefer })
		e.setTopologyEndpoints(t, svc.Name+"-1", topologyStep{name: c.name, be1: c.be1, be2: c.be2})
		vips[c.name] = hostPort(svc.Spec.ClusterIP, 80)
	}
	for _, c := range topologyCases {
		want := e.destinations(c.want)
		guestutil.Eventually(t, 60*time.Second, func() string {
			e.d.check(t)
			return takesConnections(c.name+": ipvsd", virtualServer(t, "TCP", vips[c.name]), want)
		})
	}
	kp := startRefProxy(t)
	start := time.Now()
	guestutil.Eventually(t, 120*time.Second, func() string {
		kp.check(t)
		return kp.fullSyncs()
	})
	t.Logf("kube-proxy's first sync ended %s after it started", time.Since(start).Round(time.Millisecond))
	// kube-proxy's first sync can come before its Node informer has the
	// zone label (it did once on a loaded host: both endpoints for the
	// same-zone case); what is compared is the choice it settles on.
	for _, c := range topologyCases {
		var ours, theirs string
		guestutil.Eventually(t, 60*time.Second, func() string {
			kp.check(t)
			ours, theirs = virtualServer(t, "TCP", vips[c.name]), kp.virtualServer(t, "TCP", vips[c.name])
			if msg := takesConnections(c.name+": kube-proxy", theirs, e.destinations(c.want)); msg != "" {
				return fmt.Sprintf("%s\nipvsd:\n%s", msg, ours)
			}
			return ""
		})
		t.Logf("%s: ipvsd %v, kube-proxy %v", c.name, realServerWeights(ours), realServerWeights(theirs))
	}
}

// fullSyncs complains until kube-proxy's IPv4 proxier has finished a
// sync, as its own metric counts them. Its IPVS proxier always syncs in
// full, and not before it has every Service and EndpointSlice.
func (p *refProxy) fullSyncs() string {
	body, err := p.ns.HTTPGet("http://127.0.0.1:10249/metrics", 5*time.Second)
	if err != nil {
		return "kube-proxy metrics: " + err.Error()
	}
	for _, l := range strings.Split(body, "\n") {
		m := sampleLine.FindStringSubmatch(l)
		if m == nil || m[1] != "kubeproxy_sync_proxy_rules_duration_seconds_count" || !strings.Contains(m[2], `ip_family="IPv4"`) {
			continue
		}
		if v, err := strconv.ParseFloat(m[3], 64); err == nil && v >= 1 {
			return ""
		}
	}
	return "kube-proxy has not finished an IPv4 sync"
}

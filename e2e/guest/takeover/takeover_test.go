//go:build lab

package takeover

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// heldPerService is how many connections are held through each Service.
const heldPerService = 4

// TestTakeOver: the real kube-proxy programs a ClusterIP and a NodePort
// Service; connections through both are held and keep exchanging while
// kube-proxy is killed (as deleting its DaemonSet does, without cleanup)
// and `ipvsd run --take-over-kube-proxy` starts on the same config file.
// Every held connection must survive; the virtual servers must be the
// same ones (their connection counters and entries kept); nothing of
// kube-proxy may remain and nothing foreign may change.
func TestTakeOver(t *testing.T) {
	c := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	guestutil.EnsureNode(t, c, nodeName, nodeIP, testNS)
	n := newNetwork(t)
	cip := echoService(t, c, n, "cip", false)
	np := echoService(t, c, n, "np", true)
	// gone is deleted while no proxy runs: ipvsd must remove what
	// kube-proxy made for it.
	gone := echoService(t, c, n, "gone", false)
	cipAddr := cip.Spec.ClusterIP + ":9000"
	npAddr := fmt.Sprintf("%s:%d", nodeIP, np.Spec.Ports[0].NodePort)
	goneAddr := gone.Spec.ClusterIP + ":9000"
	addForeignRules(t)
	config := proxyConfig(t)

	kp := startKubeProxy(t, config, 2, "TCP "+cipAddr, "TCP "+npAddr, "TCP "+goneAddr)
	waitKubeProxySynced(t, kp, cip.Spec.ClusterIP, np.Spec.Ports[0].NodePort)
	hs := append(guestutil.Hold(t, n.pod.NS, "ClusterIP", cipAddr, heldPerService), guestutil.Hold(t, n.outside.NS, "NodePort", npAddr, heldPerService)...)
	stop := make(chan struct{})
	wait := guestutil.Exchange(hs, stop)
	kp.Stop(t, syscall.SIGKILL)
	checkKubeProxyLog(t, kp)
	deleteService(t, c, "gone")
	addForeignIPVS(t)
	foreign := foreignState(t)
	before := map[string]uint64{cipAddr: vsConns(t, cipAddr), npAddr: vsConns(t, npAddr)}
	t.Logf("after kube-proxy was killed:\n%s", guestutil.Run(t, "ipvsadm", "-Ln"))

	begin := time.Now()
	d := guestutil.Start(t, "ipvsd", "run", "--config="+config, "--take-over-kube-proxy")
	guestutil.Eventually(t, 3*time.Minute, func() string {
		d.Check(t)
		if left := kubeProxyLeft(t); len(left) > 0 {
			return fmt.Sprintf("kube-proxy's leftovers remain:\n%s\n%s", strings.Join(left, "\n"), d.LogTail(20))
		}
		return ""
	})
	t.Logf("ipvsd took over in %s", time.Since(begin).Round(time.Millisecond))
	// Keep exchanging a while on the new owner's rules alone.
	time.Sleep(3 * time.Second)
	close(stop)
	wait()

	cipKept, cipLost := guestutil.Count(t, hs, "ClusterIP")
	npKept, npLost := guestutil.Count(t, hs, "NodePort")
	t.Logf("held connections: ClusterIP %d held, %d lost; NodePort %d held, %d lost (of %d each)", cipKept, cipLost, npKept, npLost, heldPerService)

	checkAdopted(t, d, before, cipAddr, npAddr)
	checkOwned(t, cip.Spec.ClusterIP, map[string]string{cipAddr: "takeover/cip:echo", npAddr: "takeover/np:echo"})
	if got := foreignState(t); got != foreign {
		t.Errorf("foreign state changed (-before +after):\n%s", cmp.Diff(foreign, got))
	}
	newConnection(t, n.pod.NS, "ClusterIP", cipAddr)
	newConnection(t, n.outside.NS, "NodePort", npAddr)
	if table := guestutil.Run(t, "ipvsadm", "-Ln"); realServers(table, "TCP "+goneAddr) >= 0 {
		t.Errorf("TCP %s, of a Service deleted while kube-proxy was down, is still there:\n%s", goneAddr, table)
	}
	if log := d.LogTail(400); !strings.Contains(log, "took over kube-proxy") {
		t.Errorf("ipvsd never said it took over:\n%s", log)
	}
	d.Stop(t, syscall.SIGTERM)
	if d.Err() != nil {
		t.Errorf("ipvsd run on SIGTERM: %v", d.Err())
	}
}

// checkOwned: the ClusterIP moved to ipvsd's link, and `ipvsd list
// --owners` names each adopted service (by its address) by its Service.
func checkOwned(t *testing.T, clusterIP string, owners map[string]string) {
	t.Helper()
	if addrs := guestutil.Run(t, "/sbin/ip", "-o", "addr", "show", "dev", "ipvs0"); !strings.Contains(addrs, " "+clusterIP+"/32") {
		t.Errorf("ipvs0 lacks %s:\n%s", clusterIP, addrs)
	}
	list := guestutil.Run(t, "ipvsd", "list", "-n", "--owners")
	for addr, owner := range owners {
		want := owner + " TCP " + addr
		found := false
		for _, l := range strings.Split(list, "\n") {
			if f := strings.Fields(l); len(f) >= 3 && strings.Join(f[:3], " ") == want {
				found = true
			}
		}
		if !found {
			t.Errorf("ipvsd list --owners has no line %q:\n%s", want, list)
		}
	}
}

// newConnection: a new connection from ns through addr reaches a backend.
func newConnection(t *testing.T, ns *nettest.NS, via, addr string) {
	t.Helper()
	g, c, err := ns.TCPHello(addr, guestutil.EchoTimeout)
	if c != nil {
		c.Close()
	}
	if err != nil || (g != "be1" && g != "be2") {
		t.Errorf("a new %s connection to %s: %q, %v", via, addr, g, err)
	}
}

// checkAdopted: the virtual servers are the ones kube-proxy made, not new
// ones: their connection counters went on from where they were, and the
// held connections are still in the kernel's connection table, counted
// active on their real servers.
func checkAdopted(t *testing.T, d *guestutil.Proc, before map[string]uint64, addrs ...string) {
	t.Helper()
	saved := guestutil.Run(t, "ipvsadm", "-Sn")
	conns := guestutil.Run(t, "ipvsadm", "-Lnc")
	for _, a := range addrs {
		if !strings.Contains(saved, "-A -t "+a+" -s rr") {
			t.Errorf("ipvsadm -Sn has no TCP %s:\n%s", a, saved)
		}
		// No connection is opened between the hand-over and this check:
		// a recreated service would count none. (The count read before
		// may lag: the kernel's estimator sums the counters every 2 s.)
		if got := vsConns(t, a); got < before[a] || got < heldPerService {
			t.Errorf("TCP %s counted %d connections before the hand-over and %d after, want at least %d: recreated, not adopted", a, before[a], got, heldPerService)
		}
		if got := activeConns(t, a); got < heldPerService {
			t.Errorf("TCP %s has %d active connections on its real servers, want at least %d:\n%s", a, got, heldPerService, guestutil.Run(t, "ipvsadm", "-Ln"))
		}
		if got := strings.Count(conns, a); got < heldPerService {
			t.Errorf("ipvsadm -Lnc has %d entries for %s, want at least %d:\n%s", got, a, heldPerService, conns)
		}
	}
	if got := strings.Count(d.LogTail(1000), "adopting a virtual server in place"); got < len(addrs) {
		t.Errorf("ipvsd logged %d adoptions, want at least %d:\n%s", got, len(addrs), d.LogTail(80))
	}
	t.Logf("after the hand-over:\n%s%s", saved, guestutil.Run(t, "ipvsadm", "-Ln", "--stats"))
}

// vsConns is the service's total connection count (ipvsadm --stats
// Conns), which starts at 0 when a service is created.
func vsConns(t *testing.T, addr string) uint64 {
	t.Helper()
	for _, l := range strings.Split(guestutil.Run(t, "ipvsadm", "-Ln", "--stats", "--exact", "-t", addr), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "TCP" && f[1] == addr {
			n, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("ipvsadm --stats line %q: %v", l, err)
			}
			return n
		}
	}
	t.Fatalf("no TCP %s in ipvsadm --stats", addr)
	return 0
}

// activeConns sums ActiveConn over the service's real servers.
func activeConns(t *testing.T, addr string) int {
	t.Helper()
	sum := 0
	for _, l := range strings.Split(guestutil.Run(t, "ipvsadm", "-Ln", "-t", addr), "\n") {
		f := strings.Fields(l)
		if len(f) == 6 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			n, err := strconv.Atoi(f[4])
			if err != nil {
				t.Fatalf("ipvsadm line %q: %v", l, err)
			}
			sum += n
		}
	}
	return sum
}

// expectedKubeProxyErrors are the error lines kube-proxy logs on any node
// like the lab's: the deprecation of its IPVS mode, and nodePortAddresses
// left unset (as in most clusters).
var expectedKubeProxyErrors = regexp.MustCompile(`ipvs proxier is now deprecated|nodePortAddresses is unset`)

// checkKubeProxyLog fails on an error kube-proxy logged while it ran.
func checkKubeProxyLog(t *testing.T, kp *guestutil.Proc) {
	t.Helper()
	for _, l := range kubeProxyErrors(kp.LogTail(5000)) {
		if !expectedKubeProxyErrors.MatchString(l) {
			t.Errorf("kube-proxy logged an error: %s", l)
		}
	}
}

//go:build lab

package kube

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// The VM's root namespace is the node "lab" (eth0 10.0.2.15, the API server
// at 10.0.2.2). Pods and an outside client hang off it by veths and route
// through it, as on a real node.
const (
	nodeName    = "lab"
	nodeIP      = "10.0.2.15"
	clusterCIDR = "10.244.0.0/16"
	webPort     = 8080 // backends' HTTP whoami
	echoPort    = 9000 // backends' TCP greet-and-echo, for held connections
)

// labNet is the test network: two backend pods, a client pod and a client
// outside the cluster.
type labNet struct {
	be1, be2 *nettest.Peer // be1 is on this node, be2 is said to be on "other"
	pod      *nettest.Peer // a client pod
	outside  *nettest.Peer // a client outside the cluster
}

func newLabNet(t *testing.T) *labNet {
	t.Helper()
	p := guestutil.NewPods(t)
	n := &labNet{be1: p.Be1, be2: p.Be2, pod: p.Pod, outside: p.Outside}
	for _, be := range []*nettest.Peer{n.be1, n.be2} {
		serveWhoami(t, be)
		be.ServeTCP(t, echoPort, be.Name)
	}
	return n
}

// serveWhoami answers every HTTP request with "<backend> <client address>",
// so a test sees both which backend it reached and whether its source
// address survived.
func serveWhoami(t *testing.T, p *nettest.Peer) {
	t.Helper()
	l := p.Listen(t, "tcp", fmt.Sprintf(":%d", webPort))
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "%s %s", p.Name, host)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("whoami in %s: %v", p.Name, err)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
}

// who is one whoami answer.
type who struct{ backend, client string }

// whoFrom asks addr ("ip:port") from inside ns, or from the node's own
// namespace when ns is nil. Every call is a new connection.
func whoFrom(ns *nettest.NS, addr string) (who, error) {
	url := "http://" + addr + "/"
	var body string
	var err error
	if ns == nil {
		body, err = nodeGet(url)
	} else {
		body, err = ns.HTTPGet(url, 3*time.Second)
	}
	if err != nil {
		return who{}, err
	}
	f := strings.Fields(body)
	if len(f) != 2 {
		return who{}, fmt.Errorf("GET %s: unexpected answer %q", url, body)
	}
	return who{f[0], f[1]}, nil
}

func nodeGet(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b[:n]), nil
}

// backendsSeen makes n requests and counts the answers per backend; every
// answer's client address must be wantClient when that is set.
func backendsSeen(t *testing.T, ns *nettest.NS, addr string, n int, wantClient string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		w, err := whoFrom(ns, addr)
		if err != nil {
			t.Fatalf("request to %s from %s: %v\n%s", addr, nsName(ns), err, ipvsadm(t))
		}
		if wantClient != "" && w.client != wantClient {
			t.Errorf("%s via %s saw client %s, want %s", w.backend, addr, w.client, wantClient)
		}
		seen[w.backend]++
	}
	return seen
}

func nsName(ns *nettest.NS) string {
	if ns == nil {
		return "the node"
	}
	return ns.Name
}

// ipvsadm is the kernel's table as `ipvsadm -Ln` prints it.
func ipvsadm(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln: %v\n%s", err, out)
	}
	return string(out)
}

// virtualServer is the block of `ipvsadm -Ln` for proto vip:port (its
// header line and real servers), or "" when there is none.
func virtualServer(t testing.TB, proto, vipPort string) string {
	t.Helper()
	return listingBlock(ipvsadm(t), proto, vipPort)
}

// listingBlock is the block of an `ipvsadm -Ln` listing for proto vip:port.
func listingBlock(listing, proto, vipPort string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(listing, "\n") {
		if !strings.HasPrefix(l, " ") {
			f := strings.Fields(l)
			in = len(f) >= 2 && f[0] == proto && f[1] == vipPort
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// firewallState is the IPv4 nat, mangle and filter tables and the ipsets,
// for failure messages about which way a packet went.
func firewallState(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, c := range [][]string{{"iptables-save"}, {"ipset", "list", "-t"}} {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		fmt.Fprintf(&b, "### %s (%v)\n%s\n", strings.Join(c, " "), err, out)
	}
	return b.String()
}

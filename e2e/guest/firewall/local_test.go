//go:build lab

package firewall

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// externalTrafficPolicy: Local, as controller/source/kube programs it: the load
// balancer IP and the node port hold every endpoint (the local one, behind
// the node's backend link, and a "remote" one standing for a pod on
// another node), and one firewall-mark virtual server holds the local
// endpoint only. The firewall marks traffic from outside the cluster CIDR.
var (
	lbLocal   = netip.MustParseAddr("10.96.100.2")
	remoteIP  = netip.MustParseAddr("10.244.3.2")
	localIP   = netip.MustParseAddr("10.244.2.2") // fw-be, answering "be"
	remoteHop = "10.244.3.1"                      // the node on the remote pod's link
)

const (
	nodePortLocal = 30081
	localMark     = 0x1001
)

// localNet is a testNet with the local-policy service added.
type localNet struct {
	*testNet
	remote *nettest.Peer
}

func dest(a netip.Addr) ipvs.Destination {
	return ipvs.Destination{DestKey: ipvs.DestKey{Address: a, Port: bePort}, Weight: 1, Forwarding: ipvs.Masquerade}
}

// program sets the service's IPVS and firewall state: cluster-wide
// endpoints behind the addresses, local ones behind the mark.
func (l *localNet) program(t *testing.T, cluster, local []netip.Addr) {
	t.Helper()
	ipvsd := ipvsState()
	add := func(k ipvs.Key, eps []netip.Addr) {
		v := vs(k, 0)
		for _, a := range eps {
			v.Destinations = append(v.Destinations, dest(a))
		}
		ipvsd.Services = append(ipvsd.Services, v)
	}
	add(key(lbLocal, ipvs.TCP, 80), cluster)
	add(key(nodeA, ipvs.TCP, nodePortLocal), cluster)
	add(ipvs.Key{Family: ipvs.IPv4, FWMark: localMark}, local)
	ipvsd.Addresses = ipvsd.ServiceAddresses()

	fwd := firewallState()
	fwd.Services = append(fwd.Services,
		firewall.VirtualServer{Key: key(lbLocal, ipvs.TCP, 80), Kind: firewall.LoadBalancerIP,
			HasEndpoints: len(cluster) > 0, LocalOnly: true, LocalFWMark: localMark, HasLocalEndpoints: len(local) > 0},
		firewall.VirtualServer{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: nodePortLocal}, Kind: firewall.NodePort,
			HasEndpoints: len(cluster) > 0, LocalOnly: true, LocalFWMark: localMark, HasLocalEndpoints: len(local) > 0},
	)
	// The firewall first, as the daemons do: a connection must never
	// be scheduled before its mark exists.
	l.fwd = fwd
	l.sync(t)
	l.ipvs = ipvsd
	if _, err := l.rec.Sync(context.Background(), ipvsd); err != nil {
		t.Fatal(err)
	}
}

// TestLocalTraffic: outside clients reach only the local endpoint, with
// their own address; pods and the node reach both endpoints; without a
// local endpoint outside traffic is dropped while pods still get through.
// In each back-end, with the Calico-like ruleset installed first.
func TestLocalTraffic(t *testing.T) {
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		t.Run(string(m), func(t *testing.T) {
			l := &localNet{testNet: setup(t, m)}
			l.remote = nettest.NewPeer(t, "fw-remote", remoteIP.String(), remoteHop)
			serveWhoAmI(t, l.remote.Listen(t, "tcp", fmt.Sprintf(":%d", bePort)), "remote")
			l.program(t, []netip.Addr{localIP, remoteIP}, []netip.Addr{localIP})

			t.Run("outside-lands-local", l.outsideLandsLocal)
			t.Run("first-packet-suffices", l.firstPacketSuffices)
			t.Run("inside-reaches-all", l.insideReachesAll)
			t.Run("no-local-endpoints", l.noLocalEndpoints)
			if t.Failed() {
				dump(t, m)
			}
			l.finish(t)
		})
	}
}

// outsideLandsLocal: every new connection from outside the cluster, to
// the load balancer IP and to the node port, is scheduled on the local
// endpoint, which sees the client's own address; so does every request
// of one long connection.
func (l *localNet) outsideLandsLocal(t *testing.T) {
	want := "be " + l.out.Addr.String()
	for _, addr := range []string{hostPort(lbLocal, 80), hostPort(nodeA, nodePortLocal)} {
		for range 6 {
			wantSeen(t, from(l.out), addr, want)
		}
		wantKeepAlive(t, from(l.out), addr, 5, want)
	}

	// Control: without its mark the same outside traffic is balanced
	// over both endpoints, so the mark (not chance) kept it local; the
	// periodic Check puts the entry back.
	firewalltest.Sh(t, "", "ipset", "del", firewall.SetName("vs-fwmark", ipvs.IPv4), lbLocal.String()+",tcp:80")
	out := l.out.Addr.String()
	wantBoth(t, from(l.out), hostPort(lbLocal, 80), "be "+out, "remote "+out)
	if res, err := l.fw.Check(context.Background(), l.fwd); err != nil || res.EntriesAdded != 1 {
		t.Fatalf("check after deleting the mark entry: %+v, %v", res, err)
	}
	wantSeen(t, from(l.out), hostPort(lbLocal, 80), want)
}

// firstPacketSuffices: with our mangle jump moved behind the Calico-like
// "accept established" rule, only each connection's first packet is
// marked (the counter proves it); IPVS keeps the rest on the connection
// it scheduled, found by tuple, so the result is the same.
func (l *localNet) firstPacketSuffices(t *testing.T) {
	ipt := firewalltest.Tool(l.mode, ipvs.IPv4, "")
	firewalltest.Sh(t, "", ipt, "-t", "mangle", "-D", "PREROUTING", "-j", "IPVSD-PREROUTING")
	firewalltest.Sh(t, "", ipt, "-t", "mangle", "-A", "PREROUTING", "-j", "IPVSD-PREROUTING")
	defer func() {
		// Check does not reorder an existing jump; put ours back
		// first, where Sync inserts it.
		firewalltest.Sh(t, "", ipt, "-t", "mangle", "-D", "PREROUTING", "-j", "IPVSD-PREROUTING")
		if res, err := l.fw.Check(context.Background(), l.fwd); err != nil || res.JumpsInserted != 1 {
			t.Errorf("restoring our mangle jump: %+v, %v", res, err)
		}
	}()
	before := markedPackets(t, l.mode)
	wantKeepAlive(t, from(l.out), hostPort(lbLocal, 80), 5, "be "+l.out.Addr.String())
	if got := markedPackets(t, l.mode) - before; got != 1 {
		t.Errorf("our mark rule saw %d packets of one connection behind the established-accept rule, want 1 (the SYN)", got)
	}
}

// insideReachesAll: a pod (inside the cluster CIDR) is not marked and is
// balanced over both endpoints, keeping its address; so is the node
// itself (masqueraded, as always for the node's own traffic).
func (l *localNet) insideReachesAll(t *testing.T) {
	pod := l.pod.Addr.String()
	for _, addr := range []string{hostPort(lbLocal, 80), hostPort(nodeA, nodePortLocal)} {
		wantBoth(t, from(l.pod), addr, "be "+pod, "remote "+pod)
	}
	wantBoth(t, node, hostPort(lbLocal, 80), "be "+beHost, "remote "+remoteHop)
}

// noLocalEndpoints: the local endpoint is gone (the firewall-mark virtual
// server has no real server). Outside traffic is dropped, not sent
// elsewhere nor refused, so the load balancer's health check moves
// clients; pods still reach the remote endpoint.
func (l *localNet) noLocalEndpoints(t *testing.T) {
	l.program(t, []netip.Addr{remoteIP}, nil)
	wantDropped(t, from(l.out), hostPort(lbLocal, 80))
	wantDropped(t, from(l.out), hostPort(nodeA, nodePortLocal))
	pod := l.pod.Addr.String()
	for range 3 {
		wantSeen(t, from(l.pod), hostPort(lbLocal, 80), "remote "+pod)
		wantSeen(t, from(l.pod), hostPort(nodeA, nodePortLocal), "remote "+pod)
	}
	// The endpoint comes back: outside traffic flows again.
	l.program(t, []netip.Addr{localIP, remoteIP}, []netip.Addr{localIP})
	wantSeen(t, from(l.out), hostPort(lbLocal, 80), "be "+l.out.Addr.String())
}

// wantBoth requires new connections to reach exactly the two answers
// given (round robin over two real servers).
func wantBoth(t *testing.T, d dialer, addr string, a, b string) {
	t.Helper()
	seen := map[string]int{}
	for range 6 {
		got, err := d.whoami(addr)
		if err != nil {
			t.Errorf("%s -> %s: %v", d.name, addr, err)
			return
		}
		seen[got]++
	}
	if len(seen) != 2 || seen[a] == 0 || seen[b] == 0 {
		t.Errorf("%s -> %s: answers %v, want both %q and %q", d.name, addr, seen, a, b)
	}
}

// wantKeepAlive sends n requests over one TCP connection and requires
// each answer to be want.
func wantKeepAlive(t *testing.T, d dialer, addr string, n int, want string) {
	t.Helper()
	c, err := d.dial("tcp", addr, 3*time.Second)
	if err != nil {
		t.Errorf("%s -> %s: %v", d.name, addr, err)
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for i := range n {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: whoami\r\n\r\n"); err != nil {
			t.Errorf("%s -> %s: request %d: %v", d.name, addr, i, err)
			return
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Errorf("%s -> %s: response %d: %v", d.name, addr, i, err)
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != want {
			t.Errorf("%s -> %s: request %d on one connection answered %q, %v; want %q", d.name, addr, i, body, err, want)
		}
	}
}

var counters = regexp.MustCompile(`^\[(\d+):\d+\] `)

// markedPackets is the packet counter of our rule that marks load-balancer
// and external IP traffic.
func markedPackets(t *testing.T, m firewall.Mode) int {
	t.Helper()
	for _, l := range strings.Split(firewalltest.Sh(t, "", firewalltest.Tool(m, ipvs.IPv4, "save"), "-c", "-t", "mangle"), "\n") {
		if !strings.Contains(l, "-A IPVSD-LOCAL-MARK ") || !strings.Contains(l, "--map-set ipvsd-vs-fwmark-v4") {
			continue
		}
		if c := counters.FindStringSubmatch(l); c != nil {
			n, _ := strconv.Atoi(c[1])
			return n
		}
	}
	t.Fatal("no counter for our mark rule in mangle")
	return 0
}

//go:build lab

package foundation

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

const vip = "10.96.0.10"

// topology is a client namespace and two backend namespaces hanging off the
// VM's root namespace, which is the director: it holds the VIP on a dummy
// interface and routes between the others.
type topology struct {
	client   *nettest.Peer
	backends []*nettest.Peer
	handle   *mobyipvs.Handle
}

func setup(t *testing.T) *topology {
	t.Helper()
	for path, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":            "1",
		"/proc/sys/net/ipv4/vs/conntrack":          "1",
		"/proc/sys/net/ipv4/vs/expire_nodest_conn": "1",
	} {
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			t.Fatalf("sysctl %s: %v", path, err)
		}
	}
	dummy := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "ipvs0"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatalf("adding dummy link: %v", err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(dummy) })
	if err := netlink.AddrAdd(dummy, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(vip), Mask: net.CIDRMask(32, 32)}}); err != nil {
		t.Fatalf("binding VIP: %v", err)
	}
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
	topo := &topology{
		client: nettest.NewPeer(t, "client", "10.200.0.2", "10.200.0.1"),
		backends: []*nettest.Peer{
			nettest.NewPeer(t, "be1", "10.100.1.2", "10.100.1.1"),
			nettest.NewPeer(t, "be2", "10.100.2.2", "10.100.2.1"),
		},
	}
	h, err := mobyipvs.New("")
	if err != nil {
		t.Fatalf("ipvs handle: %v", err)
	}
	t.Cleanup(h.Close)
	topo.handle = h
	return topo
}

// addService creates a round-robin NAT virtual service on the VIP with one
// real server per backend, and deletes it in t.Cleanup.
func (tp *topology) addService(t *testing.T, proto uint16, port, backendPort uint16) *mobyipvs.Service {
	t.Helper()
	svc := &mobyipvs.Service{
		Address: net.ParseIP(vip).To4(), Protocol: proto, Port: port,
		AddressFamily: syscall.AF_INET, SchedName: mobyipvs.RoundRobin, Netmask: 0xffffffff,
	}
	if err := tp.handle.NewService(svc); err != nil {
		t.Fatalf("adding virtual service: %v", err)
	}
	t.Cleanup(func() {
		if err := tp.handle.DelService(svc); err != nil {
			t.Errorf("deleting virtual service: %v", err)
		}
	})
	for _, be := range tp.backends {
		d := &mobyipvs.Destination{
			Address: be.Addr.To4(), Port: backendPort, Weight: 1,
			ConnectionFlags: mobyipvs.ConnectionFlagMasq, AddressFamily: syscall.AF_INET,
		}
		if err := tp.handle.NewDestination(svc, d); err != nil {
			t.Fatalf("adding real server %s: %v", be.Addr, err)
		}
	}
	return svc
}

// countReplies asks n times and counts who answered.
func countReplies(t *testing.T, n int, ask func() (string, error)) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		reply, err := ask()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		seen[reply]++
	}
	return seen
}

func TestTCPRoundRobinHTTP(t *testing.T) {
	tp := setup(t)
	for _, be := range tp.backends {
		be.ServeHTTP(t, 8080, be.Name)
	}
	tp.addService(t, syscall.IPPROTO_TCP, 80, 8080)

	url := fmt.Sprintf("http://%s:80/", vip)
	seen := countReplies(t, 10, func() (string, error) { return tp.client.HTTPGet(url, 5*time.Second) })
	t.Logf("HTTP replies through %s: %v", url, seen)
	// Round robin with equal weights: exactly half each.
	if seen["be1"] != 5 || seen["be2"] != 5 {
		t.Fatalf("round robin over 10 requests gave %v, want 5 each from be1 and be2", seen)
	}

	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln: %v\n%s", err, out)
	}
	t.Logf("ipvsadm -Ln:\n%s", out)
	// Each backend took 5 connections that are now closed (InActConn 5).
	lines := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		lines[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, want := range []string{
		"TCP 10.96.0.10:80 rr",
		"-> 10.100.1.2:8080 Masq 1 0 5",
		"-> 10.100.2.2:8080 Masq 1 0 5",
	} {
		if !lines[want] {
			t.Errorf("ipvsadm -Ln lacks a line with fields %q", want)
		}
	}
}

func TestUDPRoundRobin(t *testing.T) {
	tp := setup(t)
	for _, be := range tp.backends {
		be.ServeUDP(t, 5353, be.Name)
	}
	tp.addService(t, syscall.IPPROTO_UDP, 53, 5353)

	addr := vip + ":53"
	// Each exchange uses a new source port, so each is a new IPVS connection.
	seen := countReplies(t, 10, func() (string, error) { return tp.client.UDPExchange(addr, "ping", 5*time.Second) })
	t.Logf("UDP replies through %s: %v", addr, seen)
	if seen["be1"] != 5 || seen["be2"] != 5 {
		t.Fatalf("round robin over 10 datagrams gave %v, want 5 each", seen)
	}
	out, err := exec.Command("ipvsadm", "-Ln", "-u", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln -u: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "UDP  10.96.0.10:53 rr") {
		t.Fatalf("ipvsadm does not show the UDP service:\n%s", out)
	}
}

// A long-lived TCP connection keeps its backend while new ones rotate: the
// kernel's connection table, not the scheduler, decides an existing flow.
func TestTCPConnectionStaysOnItsBackend(t *testing.T) {
	tp := setup(t)
	for _, be := range tp.backends {
		be.ServeTCP(t, 9000, be.Name)
	}
	tp.addService(t, syscall.IPPROTO_TCP, 9000, 9000)
	hello, conn, err := tp.client.TCPHello(vip+":9000", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 3; i++ {
		other, c2, err := tp.client.TCPHello(vip+":9000", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c2.Close()
		_ = other
		msg := fmt.Sprintf("line %d", i)
		if _, err := fmt.Fprintln(conn, msg); err != nil {
			t.Fatalf("writing on the long-lived connection to %s: %v", hello, err)
		}
		buf := make([]byte, 64)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || strings.TrimSpace(string(buf[:n])) != msg {
			t.Fatalf("echo on the long-lived connection: %q, %v", buf[:n], err)
		}
	}
}

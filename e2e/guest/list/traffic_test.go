//go:build lab

package list

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// busy is the VM's root namespace as a director: VIPs on a dummy link, a
// client namespace and two backends behind veth pairs.
type busy struct {
	client   *nettest.Peer
	backends []*nettest.Peer
	h        *ipvs.Handle
}

func newBusy(t *testing.T) *busy {
	t.Helper()
	for path, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":   "1",
		"/proc/sys/net/ipv4/vs/conntrack": "1",
	} {
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dummy := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "vip0"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(dummy) })
	for _, a := range []string{"10.96.0.10/32", "10.96.0.11/32"} {
		addr, _ := netlink.ParseAddr(a)
		if err := netlink.AddrAdd(dummy, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
	flush(t)
	b := &busy{
		client: nettest.NewPeer(t, "client", "10.200.0.2", "10.200.0.1"),
		backends: []*nettest.Peer{
			nettest.NewPeer(t, "be1", "10.100.1.2", "10.100.1.1"),
			nettest.NewPeer(t, "be2", "10.100.2.2", "10.100.2.1"),
		},
		h: handle(t),
	}
	for _, be := range b.backends {
		be.ServeHTTP(t, 8080, be.Name)
		be.ServeTCP(t, 9000, be.Name)
		be.ServeUDP(t, 5353, be.Name)
	}
	return b
}

func (b *busy) service(t *testing.T, s ipvs.Service, port uint16, weights ...int) {
	t.Helper()
	if err := b.h.AddService(s); err != nil {
		t.Fatal(err)
	}
	for i, be := range b.backends {
		d := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr(be.Addr.String()), Port: port}, Weight: weights[i]}
		if err := b.h.AddDestination(s.Key, d); err != nil {
			t.Fatal(err)
		}
	}
}

func key(proto ipvs.Protocol, ap string) ipvs.Key {
	a := netip.MustParseAddrPort(ap)
	return ipvs.Key{Family: ipvs.IPv4, Address: a.Addr(), Protocol: proto, Port: a.Port()}
}

// TestBusyTable runs real HTTP, TCP and UDP traffic through NAT services
// (one persistent), keeps some TCP connections open, and then compares
// the counters, rates, connection counts and the connection table (-c)
// with ipvsadm's, numeric and with names.
func TestBusyTable(t *testing.T) {
	withHosts(t, "10.96.0.10 web", "10.100.1.2 be1", "10.200.0.2 a-client-with-a-long-name")
	b := newBusy(t)
	b.service(t, ipvs.Service{Key: key(ipvs.TCP, "10.96.0.10:80"), Scheduler: "rr"}, 8080, 1, 3)
	b.service(t, ipvs.Service{Key: key(ipvs.TCP, "10.96.0.10:9000"), Scheduler: "wlc", Timeout: 300}, 9000, 2, 1)
	b.service(t, ipvs.Service{Key: key(ipvs.UDP, "10.96.0.11:53"), Scheduler: "wrr"}, 5353, 1, 1)

	for i := 0; i < 40; i++ {
		if _, err := b.client.HTTPGet("http://10.96.0.10/", 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := b.client.UDPExchange("10.96.0.11:53", strings.Repeat("q", 100+i), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var open []net.Conn
	for i := 0; i < 4; i++ {
		_, c, err := b.client.TCPHello("10.96.0.10:9000", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	// Wait for the estimator (every 2 s) to publish the counters.
	waitCounters(t, b.h)

	for _, a := range listingArgs {
		for _, args := range withNumeric(a) {
			same(t, args...)
		}
	}
	for _, args := range [][]string{{"-c"}, {"-c", "-n"}, {"-c", "--persistent-conn"}, {"-c", "-n", "--persistent-conn"}} {
		out := same(t, args...)
		if n := strings.Count(out, "\n"); n < 40 {
			t.Errorf("ipvsadm -L %v lists %d lines; the traffic made no connections?\n%s", args, n, out)
		}
		if !strings.Contains(out, "ESTABLISHED") {
			t.Errorf("ipvsadm -L %v shows no open connection:\n%s", args, out)
		}
	}
	for _, args := range [][]string{{"-n", "-t", "10.96.0.10:9000", "--stats", "--exact"}, {"-u", "10.96.0.11:53", "--rate"}, {"-t", "web:http", "--persistent-conn"}} {
		same(t, args...)
	}
}

// waitCounters waits until the kernel's estimator, which folds the per-CPU
// counters into the totals every 2 s, has published the traffic: the
// connection total is non-zero and has not moved for a full estimator
// period. A fixed expected total would be flaky: a UDP client that happens
// to reuse a source port reuses its IPVS connection, so 40 exchanges are
// not always 40 connections.
func waitCounters(t *testing.T, h *ipvs.Handle) {
	t.Helper()
	var last uint64
	changed := time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		dump, err := h.Dump()
		if err != nil {
			t.Fatal(err)
		}
		total := uint64(0)
		for _, s := range dump {
			total += s.Stats.Conns
		}
		if total != last {
			last, changed = total, time.Now()
		}
		if total > 0 && time.Since(changed) > 2500*time.Millisecond {
			return
		}
	}
	t.Fatal(fmt.Errorf("counters never settled (last total %d connections)", last))
}

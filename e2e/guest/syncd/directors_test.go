//go:build lab

package syncd

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// Directors are two directors and their neighbours, each in a network
// namespace: a client behind d1, two real servers (10.62.0.2 and
// 10.62.0.3, one namespace) behind d1, and d1 and d2 joined by a sync
// link (10.60.0.1 and 10.60.0.2 on sync0). d2 has no path to the others:
// all it knows of d1's connections comes over the sync link.
type Directors struct {
	D1, D2, Client, Servers *nettest.NS
}

// NewDirectors builds the namespaces and links of Directors.
func NewDirectors(t *testing.T) Directors {
	t.Helper()
	n := Directors{
		D1: nettest.NewNS(t, "d1"), D2: nettest.NewNS(t, "d2"),
		Client: nettest.NewNS(t, "client"), Servers: nettest.NewNS(t, "servers"),
	}
	nettest.Link(t, n.Client, "eth0", "10.61.0.2/24", n.D1, "cl0", "10.61.0.1/24")
	n.Client.DefaultRoute(t, "10.61.0.1")
	nettest.Link(t, n.D1, "rs0", "10.62.0.1/24", n.Servers, "eth0", "10.62.0.2/24")
	n.Servers.Run(t, "/sbin/ip", "addr", "add", "10.62.0.3/24", "dev", "eth0")
	// Replies go back through d1, which reverses the NAT: the classic
	// LVS-NAT set-up, no masquerading needed.
	n.Servers.DefaultRoute(t, "10.62.0.1")
	nettest.Link(t, n.D1, "sync0", "10.60.0.1/24", n.D2, "sync0", "10.60.0.2/24")
	return n
}

// serveAddress answers each connection to port with the address it
// reached, then echoes lines: which real server took a connection.
func serveAddress(t *testing.T, ns *nettest.NS, port int) {
	t.Helper()
	l := ns.Listen(t, "tcp", fmt.Sprintf(":%d", port))
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintln(c, c.LocalAddr())
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintln(c, s.Text())
				}
			}()
		}
	}()
}

const directorConfig = `
sync: {interface: sync0, syncID: 7, role: %s}
services:
  - name: web
    vip: 192.0.2.80
    port: 80
    scheduler: rr
    backends: [{address: 10.62.0.2, port: 8080}, {address: 10.62.0.3, port: 8080}]
`

// TestTwoDirectors: `ipvsd standalone` runs the master sync daemon on d1
// and the backup on d2 from their sync: sections; TCP connections made
// through d1's rr service appear in d2's connection table with the same
// real server, and both directors have sloppy TCP on.
func TestTwoDirectors(t *testing.T) {
	n := NewDirectors(t)
	serveAddress(t, n.Servers, 8080)
	startDirector(t, "d1", n.D1, "master")
	startDirector(t, "d2", n.D2, "backup")

	want := openConns(t, n.Client, 2)
	servers := map[string]bool{}
	for _, s := range want {
		servers[s] = true
	}
	if len(servers) != 2 {
		t.Errorf("rr sent both connections to %v; want one on each real server", want)
	}
	synced := time.Now()
	guestutil.Eventually(t, 60*time.Second, func() string {
		master, backup := guestutil.IPVSConns(t, n.D1), guestutil.IPVSConns(t, n.D2)
		for client, server := range want {
			if m := master[client]; m.Destination != server {
				return fmt.Sprintf("d1 has %s -> %v, want real server %s", client, m, server)
			}
			if b := backup[client]; b.Protocol != "TCP" || b.Virtual != "192.0.2.80:80" || b.Destination != server {
				return fmt.Sprintf("d2 has %s -> %v, want 192.0.2.80:80 and real server %s (all of d2: %v)", client, b, server, backup)
			}
		}
		return ""
	})
	t.Logf("figure: both connections in the backup's table %.1f s after their third packet (d2: %v)",
		time.Since(synced).Seconds(), guestutil.IPVSConns(t, n.D2))
}

// startDirector runs `ipvsd standalone` in ns with the sync role, and
// waits until its daemon runs and its service is programmed.
func startDirector(t *testing.T, name string, ns *nettest.NS, role string) {
	t.Helper()
	path := writeConfig(t, name+".yaml", fmt.Sprintf(directorConfig, role))
	guestutil.StartIPVSD(t, name, ns, "standalone", "--config", path, "--record", recordIn(t),
		"--iptables-mode", "none", "--metrics-addr", "")
	want := role + " sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
	guestutil.Eventually(t, 60*time.Second, func() string {
		if got := guestutil.SyncDaemons(t, ns); got != want {
			return name + ": sync daemons:\n" + got
		}
		if out := ns.Run(t, "/usr/sbin/ipvsadm", "-Ln"); !strings.Contains(out, "10.62.0.3:8080") {
			return name + ": the service is not programmed:\n" + out
		}
		return ""
	})
	if got := strings.TrimSpace(ns.Run(t, "cat", "/proc/sys/net/ipv4/vs/sloppy_tcp")); got != "1" {
		t.Errorf("%s: sloppy_tcp = %s, want 1", name, got)
	}
}

// openConns opens n connections from client to the VIP, left open until
// the test ends, and returns each one's client address and the real
// server that answered. Each sends three lines after the handshake: the
// kernel syncs a connection at its third packet (net.ipv4.vs.sync_threshold 3).
func openConns(t *testing.T, client *nettest.NS, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for range n {
		c, err := client.Dial("tcp", "192.0.2.80:80", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		server, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the real server's greeting: %v", err)
		}
		for i := range 3 {
			if _, err := fmt.Fprintf(c, "line %d\n", i); err != nil {
				t.Fatal(err)
			}
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatalf("echo: %v", err)
			}
		}
		out[c.LocalAddr().String()] = strings.TrimSpace(server)
	}
	return out
}

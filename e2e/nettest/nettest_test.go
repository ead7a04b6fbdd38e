package nettest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(RunIsolated(m)) }

// Two namespaces hang off this (isolated) namespace; servers in one answer
// clients in the other through it, which exercises namespace switching for
// listeners and dialers, veth set-up and the default routes.
func TestPeersTalkThroughCaller(t *testing.T) {
	writeSysctl(t, "/proc/sys/net/ipv4/ip_forward", "1")
	srv := NewPeer(t, "nt-srv", "10.77.1.2", "10.77.1.1")
	cli := NewPeer(t, "nt-cli", "10.77.2.2", "10.77.2.1")
	srv.ServeHTTP(t, 8080, "srv-http")
	srv.ServeTCP(t, 9000, "srv-tcp")
	srv.ServeUDP(t, 9001, "srv-udp")

	body, err := cli.HTTPGet(fmt.Sprintf("http://%s:8080/", srv.Addr), 5*time.Second)
	if err != nil || body != "srv-http" {
		t.Fatalf("HTTP: got %q, %v; want srv-http", body, err)
	}
	hello, c, err := cli.TCPHello(fmt.Sprintf("%s:9000", srv.Addr), 5*time.Second)
	if err != nil || hello != "srv-tcp" {
		t.Fatalf("TCP: got %q, %v; want srv-tcp", hello, err)
	}
	for _, msg := range []string{"one", "two"} {
		if err := Echo(c, msg, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	reply, err := cli.UDPExchange(fmt.Sprintf("%s:9001", srv.Addr), "ping", 5*time.Second)
	if err != nil || reply != "srv-udp" {
		t.Fatalf("UDP: got %q, %v; want srv-udp", reply, err)
	}
	// The client must really be in its namespace: its own address is not
	// local to the caller's namespace, and the server sees it as the source.
	if _, err := cli.HTTPGet("http://10.77.2.1:1/", time.Second); err == nil {
		t.Fatal("a port nobody listens on answered")
	}
}

func TestIPv6Peer(t *testing.T) {
	writeSysctl(t, "/proc/sys/net/ipv6/conf/all/forwarding", "1")
	srv := NewPeer(t, "nt-srv6", "fd77:1::2", "fd77:1::1")
	srv.ServeHTTP(t, 8080, "v6")
	// From the caller's namespace straight to the peer.
	body, err := (&NS{Name: "caller"}).directGet(fmt.Sprintf("http://[%s]:8080/", srv.Addr))
	if err != nil || body != "v6" {
		t.Fatalf("got %q, %v", body, err)
	}
}

func writeSysctl(t *testing.T, path, v string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSetupLoop: connections alternate between two addresses of one
// server namespace; each target keeps its own count of setups, every one
// greeted by the address it reached; a target nobody serves stops the
// loop with its name.
func TestSetupLoop(t *testing.T) {
	writeSysctl(t, "/proc/sys/net/ipv4/ip_forward", "1")
	srv := NewPeer(t, "nt-dsrv", "10.77.3.2", "10.77.3.1")
	srv.AddAddrs(t, net.ParseIP("10.77.3.3"))
	srv.ServeTCPLocalAddr(t, 9100)
	cli := NewPeer(t, "nt-dcli", "10.77.4.2", "10.77.4.1")
	targets := []string{"10.77.3.2:9100", "10.77.3.3:9100"}
	got, err := cli.SetupLoop(targets, 3, 7, 20000, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d targets' setups, want 2", len(got))
	}
	for k, setups := range got {
		if len(setups) != 7 {
			t.Errorf("target %s: %d setups, want 7 (warm-up not kept)", targets[k], len(setups))
		}
		for _, s := range setups {
			if want, _, _ := strings.Cut(targets[k], ":"); s.Greeting != want {
				t.Errorf("target %s greeted by %q", targets[k], s.Greeting)
			}
			if s.FirstByte <= 0 || s.Total < s.FirstByte {
				t.Errorf("target %s: first byte after %s, closed after %s", targets[k], s.FirstByte, s.Total)
			}
		}
	}
	if _, err := cli.SetupLoop([]string{targets[0], "10.77.3.2:9101"}, 0, 1, 20100, 10*time.Second); err == nil || !strings.Contains(err.Error(), "10.77.3.2:9101") {
		t.Errorf("a closed port: error %v, want one naming 10.77.3.2:9101", err)
	}
	if _, err := cli.SetupLoop(nil, 0, 1, 20200, time.Second); err == nil {
		t.Error("a loop without targets ran")
	}
	if _, err := cli.SetupLoop(targets, 0, 10, 65530, time.Second); err == nil {
		t.Error("a loop with source ports beyond 65535 ran")
	}
}

// TestSetupLoopFrom: two client namespaces each reach "their own" server
// at the same address (two nodes' pods alike), their connections taking
// turns; every connection is answered by the server of the namespace its
// target names, so each socket was made in that namespace.
func TestSetupLoopFrom(t *testing.T) {
	var targets []Target
	for _, name := range []string{"a", "b"} {
		cli, srv := NewNS(t, "nt-lf-cli"+name), NewNS(t, "nt-lf-srv"+name)
		Link(t, cli, "eth0", "10.77.5.1/24", srv, "eth0", "10.77.5.2/24")
		srv.ServeTCP(t, 9100, "server "+name)
		targets = append(targets, Target{From: cli, Addr: "10.77.5.2:9100"})
	}
	got, err := SetupLoopFrom(targets, 2, 5, 20000, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d targets' setups, want 2", len(got))
	}
	for k, name := range []string{"a", "b"} {
		if len(got[k]) != 5 {
			t.Errorf("from %s: %d setups, want 5 (warm-up not kept)", targets[k].From.Name, len(got[k]))
		}
		for _, s := range got[k] {
			if s.Greeting != "server "+name {
				t.Errorf("from %s: greeted by %q, want %q", targets[k].From.Name, s.Greeting, "server "+name)
			}
		}
	}
	bad := []Target{targets[0], {From: targets[1].From, Addr: "10.77.5.2:9101"}}
	if _, err := SetupLoopFrom(bad, 0, 1, 20100, 10*time.Second); err == nil || !strings.Contains(err.Error(), "10.77.5.2:9101") || !strings.Contains(err.Error(), "nt-lf-clib") {
		t.Errorf("a closed port: error %v, want one naming 10.77.5.2:9101 and nt-lf-clib", err)
	}
	if _, err := SetupLoopFrom([]Target{{Addr: "10.77.5.2:9100"}}, 0, 1, 20200, time.Second); err == nil {
		t.Error("a target without a namespace ran")
	}
}

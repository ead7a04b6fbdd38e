package nettest

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// A dual-stack peer answers a dual-stack peer over both families, routed
// through the caller, and sees each client address of the family used.
func TestAddFamilyPeersTalkOverBoth(t *testing.T) {
	writeSysctl(t, "/proc/sys/net/ipv4/ip_forward", "1")
	writeSysctl(t, "/proc/sys/net/ipv6/conf/all/forwarding", "1")
	srv := NewPeer(t, "nt-ds-srv", "10.78.1.2", "10.78.1.1")
	cli := NewPeer(t, "nt-ds-cli", "10.78.2.2", "10.78.2.1")
	srv6 := srv.AddFamily(t, "fd78:1::2", "fd78:1::1")
	cli6 := cli.AddFamily(t, "fd78:2::2", "fd78:2::1")
	srv.ServeTCP(t, 9000, "srv")
	l := srv.Listen(t, "tcp", ":9001") // reports the client's address
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, c.RemoteAddr().String())
			c.Close()
		}
	}()
	for _, tc := range []struct{ srv, cli string }{{srv.Addr.String(), cli.Addr.String()}, {srv6.String(), cli6.String()}} {
		hello, c, err := cli.TCPHello(net.JoinHostPort(tc.srv, "9000"), 5*time.Second)
		if err != nil || hello != "srv" {
			t.Fatalf("to %s: greeting %q, %v", tc.srv, hello, err)
		}
		c.Close()
		from, c, err := cli.TCPHello(net.JoinHostPort(tc.srv, "9001"), 5*time.Second)
		if err != nil {
			t.Fatalf("to %s: %v", tc.srv, err)
		}
		c.Close()
		if host, _, err := net.SplitHostPort(from); err != nil || host != tc.cli {
			t.Errorf("to %s: the server saw client %s, want %s", tc.srv, from, tc.cli)
		}
	}
}

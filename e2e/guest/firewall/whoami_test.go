//go:build lab

package firewall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// The backend's servers answer with the source address they observed, so
// a test can tell whether the client was masqueraded.

// serveWhoAmI serves HTTP on l, answering "<name> <remote IP>".
func serveWhoAmI(t *testing.T, l net.Listener, name string) {
	t.Helper()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			fmt.Fprintf(w, "%s %s", name, host)
		})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("whoami server %s: %v", name, err)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
}

// serveUDPWhoAmI answers every datagram on pc with "<name> <source IP>".
func serveUDPWhoAmI(t *testing.T, pc net.PacketConn, name string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(from.String())
			_, _ = pc.WriteTo([]byte(name+" "+host), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

// dialer opens connections from one place: a namespace, or the node.
type dialer struct {
	name string
	dial func(network, addr string, timeout time.Duration) (net.Conn, error)
}

func from(p *nettest.Peer) dialer { return dialer{p.Name, p.Dial} }

// node dials from the test's own namespace, which is the node.
var node = dialer{"node", net.DialTimeout}

// whoami fetches http://addr/ and returns the backend's answer.
func (d dialer) whoami(addr string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(_ context.Context, network, a string) (net.Conn, error) {
			return d.dial(network, a, 3*time.Second)
		},
	}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return string(b), err
}

// udp sends one datagram from a fresh socket and returns the reply.
func (d dialer) udp(addr string, timeout time.Duration) (string, error) {
	c, err := d.dial("udp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("who")); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("udp reply from %s: %w", addr, err)
	}
	return string(buf[:n]), nil
}

// wantSeen requires the backend to answer and to have seen source src.
func wantSeen(t *testing.T, d dialer, addr, want string) {
	t.Helper()
	got, err := d.whoami(addr)
	if err != nil {
		t.Errorf("%s -> %s: %v", d.name, addr, err)
		return
	}
	if got != want {
		t.Errorf("%s -> %s: backend answered %q, want %q", d.name, addr, got, want)
	}
}

// wantUDPSeen is wantSeen for the UDP whoami server.
func wantUDPSeen(t *testing.T, d dialer, addr, want string) {
	t.Helper()
	got, err := d.udp(addr, 3*time.Second)
	if err != nil {
		t.Errorf("%s -> udp %s: %v", d.name, addr, err)
		return
	}
	if got != want {
		t.Errorf("%s -> udp %s: backend answered %q, want %q", d.name, addr, got, want)
	}
}

// fast bounds how long a rejection may take: a reset or an ICMP error
// arrives in well under a millisecond here; a drop would take the whole
// dial timeout.
const fast = time.Second

// wantRejected requires a TCP connection attempt to fail fast with
// wantErr (ECONNREFUSED for a reset or an ICMP port unreachable).
func wantRejected(t *testing.T, d dialer, addr string, wantErr error) {
	t.Helper()
	start := time.Now()
	c, err := d.dial("tcp", addr, 3*time.Second)
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Errorf("%s -> %s: connected, want %v", d.name, addr, wantErr)
		return
	}
	if !errors.Is(err, wantErr) || took > fast {
		t.Errorf("%s -> %s: %v after %s, want %v within %s", d.name, addr, err, took.Round(time.Millisecond), wantErr, fast)
	}
}

// wantUDPRejected requires a datagram to fail fast with wantErr: an ICMP
// port unreachable, which a connected UDP socket reports as ECONNREFUSED,
// or EPERM when netfilter dropped the node's own datagram on its way out.
func wantUDPRejected(t *testing.T, d dialer, addr string, wantErr error) {
	t.Helper()
	start := time.Now()
	got, err := d.udp(addr, 3*time.Second)
	took := time.Since(start)
	if !errors.Is(err, wantErr) || took > fast {
		t.Errorf("%s -> udp %s: %q, %v after %s; want %v within %s", d.name, addr, got, err, took.Round(time.Millisecond), wantErr, fast)
	}
}

// wantDropped requires a TCP connection attempt to time out: silently
// dropped, as a source range denies a source.
func wantDropped(t *testing.T, d dialer, addr string) {
	t.Helper()
	c, err := d.dial("tcp", addr, 1500*time.Millisecond)
	if err == nil {
		c.Close()
		t.Errorf("%s -> %s: connected, want a timeout", d.name, addr)
		return
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%s -> %s: %v, want a timeout", d.name, addr, err)
	}
}

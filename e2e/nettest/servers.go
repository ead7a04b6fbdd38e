package nettest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Listen opens a listener inside the namespace, closed in t.Cleanup.
func (ns *NS) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen(network, addr); return err }); err != nil {
		t.Fatalf("listening on %s %s in %s: %v", network, addr, ns.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ServeHTTP starts an HTTP server in the namespace on port that answers
// every request with reply (a backend's name), so a client can tell which
// backend it reached. GET /sleep?ms=N answers after N milliseconds.
func (ns *NS) ServeHTTP(t testing.TB, port int, reply string) {
	t.Helper()
	l := ns.Listen(t, "tcp", net.JoinHostPort("", strconv.Itoa(port)))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && r.URL.Path == "/sleep" {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		fmt.Fprint(w, reply)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("http server in %s: %v", ns.Name, err)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
}

// ServeTCP starts a TCP server in the namespace that, for each connection,
// writes reply and a newline, then echoes every line it reads until the
// client closes. Long-lived connections are easy to hold open with it.
func (ns *NS) ServeTCP(t testing.TB, port int, reply string) {
	t.Helper()
	ns.serveTCP(t, port, func(net.Conn) string { return reply })
}

// ServeTCPLocalAddr is ServeTCP greeting each connection with the address
// it reached (its local IP), so a client behind a load balancer sees which
// of the namespace's addresses the balancer chose.
func (ns *NS) ServeTCPLocalAddr(t testing.TB, port int) {
	t.Helper()
	ns.serveTCP(t, port, func(c net.Conn) string {
		host, _, _ := net.SplitHostPort(c.LocalAddr().String())
		return host
	})
}

func (ns *NS) serveTCP(t testing.TB, port int, greeting func(net.Conn) string) {
	t.Helper()
	l := ns.Listen(t, "tcp", net.JoinHostPort("", strconv.Itoa(port)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
				if _, err := fmt.Fprintln(c, greeting(c)); err != nil {
					return
				}
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := fmt.Fprintln(c, sc.Text()); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// ServeUDP starts a UDP server in the namespace that answers every datagram
// with reply.
func (ns *NS) ServeUDP(t testing.TB, port int, reply string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", net.JoinHostPort("", strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatalf("udp listen in %s: %v", ns.Name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(reply), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

// readAllLimited reads a small response body.
func readAllLimited(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64*1024))
	return string(b), err
}

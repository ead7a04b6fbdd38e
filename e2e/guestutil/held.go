package guestutil

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// EchoTimeout is how long one echo on a held connection may take:
// generous, the emulated CPU is slow and shared.
const EchoTimeout = 15 * time.Second

// Held is one long-lived connection to a nettest.ServeTCP backend,
// exchanging a line every 100 ms from its own goroutine until stopped: a
// connection that a hand-over or a failover must not drop.
type Held struct {
	Via     string // what the connection goes through, for messages
	Conn    net.Conn
	Backend string // the backend's greeting
	mu      sync.Mutex
	n       int
	err     error // the first failed exchange
}

// Hold opens n connections to addr from ns.
func Hold(t testing.TB, ns *nettest.NS, via, addr string, n int) []*Held {
	t.Helper()
	var out []*Held
	for range n {
		greet, c, err := ns.TCPHello(addr, EchoTimeout)
		if err != nil {
			t.Fatalf("opening a %s connection to %s: %v", via, addr, err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, &Held{Via: via, Conn: c, Backend: greet})
	}
	return out
}

// Exchange exchanges lines on every connection until stop is closed; wait
// returns once every exchanging goroutine has ended.
func Exchange(hs []*Held, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				err := nettest.Echo(h.Conn, fmt.Sprintf("%s-%d-%d", h.Via, i, n), EchoTimeout)
				h.mu.Lock()
				if err == nil {
					h.n++
				} else if h.err == nil {
					h.err = err
				}
				h.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	return wg.Wait
}

// Exchanges is how many lines the connection has exchanged so far.
func (h *Held) Exchanges() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Err is the connection's first failed exchange, nil while it is held.
func (h *Held) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Count checks every connection opened through via once more and returns
// how many are still held and how many were lost (each loss is an error
// of t).
func Count(t testing.TB, hs []*Held, via string) (kept, lost int) {
	t.Helper()
	for _, h := range hs {
		if h.Via != via {
			continue
		}
		h.mu.Lock()
		err, n := h.err, h.n
		h.mu.Unlock()
		if err == nil {
			err = nettest.Echo(h.Conn, "after the hand-over", EchoTimeout)
		}
		if err != nil {
			lost++
			t.Errorf("%s connection %s -> %s (%s) lost after %d exchanges: %v", via, h.Conn.LocalAddr(), h.Conn.RemoteAddr(), h.Backend, n, err)
			continue
		}
		kept++
	}
	return kept, lost
}

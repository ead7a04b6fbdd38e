//go:build lab

package takeover

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// echoTimeout is how long one echo may take: generous, the emulated CPU
// is slow and shared.
const echoTimeout = 15 * time.Second

// held is one long-lived connection to an echo backend, exchanging a
// line every interval from its own goroutine until stopped.
type held struct {
	via       string // "ClusterIP" or "NodePort"
	conn      net.Conn
	backend   string
	mu        sync.Mutex
	exchanges int
	err       error // the first failed exchange
}

// hold opens n connections to addr from ns.
func hold(t *testing.T, ns *nettest.NS, via, addr string, n int) []*held {
	t.Helper()
	var out []*held
	for range n {
		greet, c, err := ns.TCPHello(addr, echoTimeout)
		if err != nil {
			t.Fatalf("opening a %s connection to %s: %v", via, addr, err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, &held{via: via, conn: c, backend: greet})
	}
	return out
}

// exchange exchanges lines on every connection until stop is closed.
func exchange(hs []*held, stop <-chan struct{}) (wait func()) {
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
				err := nettest.Echo(h.conn, fmt.Sprintf("%s-%d-%d", h.via, i, n), echoTimeout)
				h.mu.Lock()
				if err == nil {
					h.exchanges++
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

// count checks every connection once more and returns how many of those
// opened through via are still held and how many were lost.
func count(t *testing.T, hs []*held, via string) (kept, lost int) {
	t.Helper()
	for _, h := range hs {
		if h.via != via {
			continue
		}
		err := h.err
		if err == nil {
			err = nettest.Echo(h.conn, "after the hand-over", echoTimeout)
		}
		if err != nil {
			lost++
			t.Errorf("%s connection to %s (%s) lost after %d exchanges: %v", via, h.conn.RemoteAddr(), h.backend, h.exchanges, err)
			continue
		}
		kept++
	}
	return kept, lost
}

package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// A guest test cannot stop the API server it talks to: the server runs on
// the host. It asks by printing a marker line on the console, which the
// host's Console reads; it then learns that the host acted by polling the
// server (unreachable after a stop, ready after a start).

// HostActionMarker starts a console line that asks the host for an action.
const HostActionMarker = "IPVSD-E2E-HOST-ACTION="

// Host actions a guest can request.
const (
	ActionStopAPIServer  = "apiserver-stop"
	ActionStartAPIServer = "apiserver-start"
)

// RequestHostAction is the guest side: it prints the marker line for
// action. The leading newline keeps it off a half-written line.
func RequestHostAction(action string) {
	fmt.Fprintf(os.Stdout, "\n%s%s\n", HostActionMarker, action)
}

// Console is the io.Writer for lab.Boot in a test with a Server: each guest
// line goes to the test log, and action markers are carried out in order
// by one goroutine, so reading the console never waits for the server.
type Console struct {
	t    testing.TB
	s    *Server
	buf  []byte
	work chan string
	done chan struct{}
	mu   sync.Mutex
	errs []error
	log  []string // actions carried out, for the test to check
}

// Console starts the action worker; call Close after lab.Boot returns.
func (s *Server) Console(t testing.TB) *Console {
	c := &Console{t: t, s: s, work: make(chan string, 16), done: make(chan struct{})}
	go c.worker()
	return c
}

func (c *Console) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		c.line(string(c.buf[:i]))
		c.buf = c.buf[i+1:]
	}
}

func (c *Console) line(l string) {
	c.t.Log("guest| " + l)
	i := strings.Index(l, HostActionMarker)
	if i < 0 {
		return
	}
	action := strings.TrimSpace(l[i+len(HostActionMarker):])
	select {
	case c.work <- action:
	default:
		c.fail(fmt.Errorf("host action %q dropped: %d already queued", action, cap(c.work)))
	}
}

func (c *Console) worker() {
	defer close(c.done)
	for action := range c.work {
		var err error
		switch action {
		case ActionStopAPIServer:
			err = c.s.StopAPIServer()
		case ActionStartAPIServer:
			err = c.s.StartAPIServer()
		default:
			err = errors.New("unknown action")
		}
		if err != nil {
			c.fail(fmt.Errorf("host action %q: %w", action, err))
			continue
		}
		c.t.Logf("host| %s done", action)
		c.mu.Lock()
		c.log = append(c.log, action)
		c.mu.Unlock()
	}
}

func (c *Console) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// Close flushes the last partial line, waits for queued actions and
// returns the actions carried out and the errors of those that failed.
func (c *Console) Close() ([]string, error) {
	if len(c.buf) > 0 {
		c.line(string(c.buf))
		c.buf = nil
	}
	close(c.work)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log, errors.Join(c.errs...)
}

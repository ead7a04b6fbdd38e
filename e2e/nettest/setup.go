package nettest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"
)

// Setup is one short TCP connection as its client saw it.
type Setup struct {
	// FirstByte is from the start of connect to the first byte of the
	// server's greeting: the handshake, the accept and one segment back,
	// which is what a proxy's per-connection work (scheduling, NAT) adds to.
	FirstByte time.Duration
	// Total is from the start of connect until the connection is closed
	// after the greeting and one echoed line.
	Total time.Duration
	// Greeting is the server's first line (ServeTCPLocalAddr: the address
	// the connection reached).
	Greeting string
}

// Target is one destination of a setup loop: Addr ("ip:port" of a
// ServeTCP-style server) reached from inside From.
type Target struct {
	From *NS
	Addr string
}

// SetupLoop is SetupLoopFrom with every target reached from ns.
func (ns *NS) SetupLoop(targets []string, warmup, count, firstPort int, timeout time.Duration) ([][]Setup, error) {
	ts := make([]Target, len(targets))
	for i, a := range targets {
		ts[i] = Target{From: ns, Addr: a}
	}
	return SetupLoopFrom(ts, warmup, count, firstPort, timeout)
}

// SetupLoopFrom opens connections to each of targets in turn, one at a
// time, round after round: warmup rounds that are not kept, then count
// rounds. Each connection connects, reads the greeting line, echoes one
// line and closes. The target that goes first moves by one each round, so
// no target always follows another. Targets may start in different
// namespaces (two nodes' client pods, say): their connections still take
// turns, so each namespace's connections meet the same moments of the
// host's load as the others'. It returns each target's count setups, in
// order, and stops at the first connection that fails, naming it.
//
// Every connection has a source port of its own, from firstPort on: a
// block of warmup+count ports for each target in turn. The kernel's own
// choice would reuse, towards the backend directly, a port a connection
// through a proxy used shortly before; the proxy's entry for that earlier
// connection (IPVS keeps one for two minutes in TIME_WAIT) then rewrites
// the backend's SYN-ACK as coming from the ClusterIP, and the direct
// connection hangs. The caller keeps the ports clear of the namespaces'
// ephemeral ranges and of their earlier loops.
func SetupLoopFrom(targets []Target, warmup, count, firstPort int, timeout time.Duration) (_ [][]Setup, err error) {
	rounds := warmup + count
	if len(targets) == 0 || count < 1 || warmup < 0 || firstPort < 1 || firstPort+len(targets)*rounds > 65536 {
		return nil, fmt.Errorf("setup loop: want targets, count >= 1, warmup >= 0 and source ports from %d for %d targets x %d rounds within 1-65535", firstPort, len(targets), rounds)
	}
	dialers := map[*NS]*dialer{}
	for _, tg := range targets {
		if tg.From == nil {
			return nil, fmt.Errorf("setup loop: target %s has no namespace", tg.Addr)
		}
		if dialers[tg.From] == nil {
			dialers[tg.From] = startDialer(tg.From, timeout)
		}
	}
	defer func() {
		for _, d := range dialers {
			err = errors.Join(err, d.stop())
		}
	}()
	out := make([][]Setup, len(targets))
	for round := range rounds {
		for i := range targets {
			k := (i + round) % len(targets)
			tg := targets[k]
			s, err := dialers[tg.From].connect(tg.Addr, firstPort+k*rounds+round)
			if err != nil {
				return nil, fmt.Errorf("round %d of %d from %s: %w", round+1, rounds, tg.From.Name, err)
			}
			if round >= warmup {
				out[k] = append(out[k], s)
			}
		}
	}
	return out, nil
}

// dialer opens a loop's connections from one namespace. Its goroutine
// switches into the namespace once for the whole loop rather than twice
// per connection: a socket is the namespace's that was current on the
// thread that created it, and the goroutine stays on its locked thread,
// so every dial creates its socket there. The loop hands it one
// connection at a time and waits for it.
type dialer struct {
	ns     *NS
	reqs   chan dialReq
	res    chan dialRes
	done   chan error
	ended  bool  // done was received
	endErr error // and what it said
}

type dialReq struct {
	addr string
	port int
}

type dialRes struct {
	s   Setup
	err error
}

func startDialer(ns *NS, timeout time.Duration) *dialer {
	d := &dialer{ns: ns, reqs: make(chan dialReq), res: make(chan dialRes), done: make(chan error, 1)}
	go func() {
		d.done <- ns.Do(func() error {
			for r := range d.reqs {
				s, err := connectEcho(r.addr, r.port, timeout)
				d.res <- dialRes{s, err}
			}
			return nil
		})
	}()
	return d
}

// connect is one connection to addr from source port port.
func (d *dialer) connect(addr string, port int) (Setup, error) {
	if d.ended {
		return Setup{}, fmt.Errorf("the dialer in %s has ended: %w", d.ns.Name, d.endErr)
	}
	select {
	case d.reqs <- dialReq{addr, port}:
	case err := <-d.done:
		// ns.Do failed before the dialer's loop ran (entering the namespace).
		d.ended, d.endErr = true, err
		return Setup{}, fmt.Errorf("the dialer in %s: %w", d.ns.Name, err)
	}
	r := <-d.res
	return r.s, r.err
}

// stop ends the dialer's goroutine and returns what leaving the
// namespace (or entering it) said.
func (d *dialer) stop() error {
	if d.ended {
		return nil // its error was returned by connect
	}
	close(d.reqs)
	d.ended = true
	return <-d.done
}

// connectEcho is one connection of SetupLoop.
func connectEcho(addr string, port int, timeout time.Duration) (Setup, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{Port: port}}
	t0 := time.Now()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return Setup{}, fmt.Errorf("connecting to %s from port %d: %w", addr, port, err)
	}
	_ = c.SetDeadline(t0.Add(timeout))
	var s Setup
	buf := make([]byte, 0, 128)
	greeting, err := readLine(c, buf, func() { s.FirstByte = time.Since(t0) })
	if err == nil {
		s.Greeting = string(greeting)
		_, err = c.Write([]byte("ping\n"))
	}
	if err == nil {
		var echo []byte
		if echo, err = readLine(c, buf, func() {}); err == nil && string(echo) != "ping" {
			err = fmt.Errorf("echo %q, want %q", echo, "ping")
		}
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	s.Total = time.Since(t0)
	if err != nil {
		return Setup{}, fmt.Errorf("connection to %s: %w", addr, err)
	}
	return s, nil
}

// readLine reads from c until a newline and returns the line without it;
// first runs when the first bytes arrive.
func readLine(c net.Conn, buf []byte, first func()) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			return nil, errors.New("a line longer than 128 bytes")
		}
		m, err := c.Read(buf[len(buf):cap(buf)])
		if m > 0 && len(buf) == 0 {
			first()
		}
		buf = buf[:len(buf)+m]
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i], nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading a line: %w", err)
		}
	}
}

package nettest

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Go's standard library has no SCTP. A one-to-one style SCTP socket
// (SOCK_STREAM, IPPROTO_SCTP, RFC 6458 section 4) takes the same socket,
// bind, listen, accept, connect, read and write calls as TCP, so these
// helpers make those few calls through golang.org/x/sys/unix. Every
// descriptor is non-blocking and handed to os.NewFile, which puts it on the
// runtime's poller: reads, writes, accept and connect then honour deadlines
// and a concurrent Close, so a lost association fails the test instead of
// hanging the VM. (The Go SCTP packages we looked at block in the syscall
// and refuse deadlines.)

// SCTPConn is one SCTP association of a one-to-one style socket.
type SCTPConn struct{ f *os.File }

// Read reads the next bytes of the association's data.
func (c *SCTPConn) Read(b []byte) (int, error) { return c.f.Read(b) }

// Write sends b as one message.
func (c *SCTPConn) Write(b []byte) (int, error) { return c.f.Write(b) }

// SetDeadline bounds later reads and writes.
func (c *SCTPConn) SetDeadline(t time.Time) error { return c.f.SetDeadline(t) }

// Close shuts the association down (SHUTDOWN, or ABORT with unread data).
func (c *SCTPConn) Close() error { return c.f.Close() }

// sctpSocket is a non-blocking one-to-one SCTP socket of the family of a.
func sctpSocket(a netip.Addr) (int, error) {
	family := unix.AF_INET6
	if a.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return -1, fmt.Errorf("SCTP socket (is the sctp module loaded?): %w", err)
	}
	return fd, nil
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// DialSCTP opens an SCTP association from inside the namespace to addr
// ("ip:port") and waits for it to be established (INIT, INIT-ACK,
// COOKIE-ECHO, COOKIE-ACK) within timeout.
func (ns *NS) DialSCTP(addr string, timeout time.Duration) (*SCTPConn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dialing SCTP %q: %w", addr, err)
	}
	var f *os.File
	err = ns.Do(func() error {
		fd, err := sctpSocket(ap.Addr())
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, sockaddr(ap)); err != nil && !errors.Is(err, unix.EINPROGRESS) {
			unix.Close(fd)
			return fmt.Errorf("connect: %w", err)
		}
		f = os.NewFile(uintptr(fd), "sctp:"+addr)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dialing SCTP %s from %s: %w", addr, ns.Name, err)
	}
	if err := waitConnected(f, timeout); err != nil {
		f.Close()
		return nil, fmt.Errorf("dialing SCTP %s from %s: %w", addr, ns.Name, err)
	}
	return &SCTPConn{f}, nil
}

// waitConnected waits, as Go's net package does for TCP, until the
// connecting socket is writable and then reads its outcome: connected once
// it has a peer, failed once SO_ERROR says why.
func waitConnected(f *os.File, timeout time.Duration) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := f.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	defer f.SetWriteDeadline(time.Time{})
	var connErr error
	werr := rc.Write(func(fd uintptr) bool {
		if _, err := unix.Getpeername(int(fd)); err == nil {
			return true
		}
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			connErr = fmt.Errorf("SO_ERROR: %w", err)
		case n != 0:
			connErr = fmt.Errorf("connect: %w", unix.Errno(n))
		default:
			return false // still establishing: wait for the poller
		}
		return true
	})
	if werr != nil {
		return fmt.Errorf("association not established within %s: %w", timeout, werr)
	}
	return connErr
}

// ServeSCTP starts an SCTP server in the namespace on port, on every
// address of both families (an IPv6 socket that also takes IPv4, as Go's
// net.Listen does for TCP). For each association it writes reply and a
// newline, then echoes every line it reads until the client closes: the
// SCTP twin of ServeTCP.
func (ns *NS) ServeSCTP(t testing.TB, port int, reply string) {
	t.Helper()
	var l *os.File
	err := ns.Do(func() error {
		fd, err := sctpSocket(netip.IPv6Unspecified())
		if err != nil {
			return err
		}
		l = os.NewFile(uintptr(fd), fmt.Sprintf("sctp-listener:%d", port))
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)))); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		return unix.Listen(fd, 64)
	})
	if err != nil {
		if l != nil {
			l.Close()
		}
		t.Fatalf("SCTP listen on port %d in %s: %v", port, ns.Name, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[*os.File]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := acceptSCTP(l)
			if errors.Is(err, errListenerGone) {
				return
			}
			if err != nil {
				// An association aborted between the handshake and
				// accept (ECONNABORTED), or a signal: the next one must
				// still be served, or every later client connects and
				// then waits in vain for its greeting.
				t.Logf("SCTP server on port %d in %s: %v (serving on)", port, ns.Name, err)
				time.Sleep(10 * time.Millisecond) // not a busy loop if it persists
				continue
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
				greetAndEcho(c, reply)
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

// errListenerGone: the listener was closed, so the server stops.
var errListenerGone = errors.New("SCTP listener closed")

// acceptSCTP waits on the poller for the next association of listener l.
// An error of accept itself is returned as is: the listener still works.
func acceptSCTP(l *os.File) (*os.File, error) {
	rc, err := l.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errListenerGone, err)
	}
	var nfd int
	var aerr error
	if err := rc.Read(func(fd uintptr) bool {
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return !errors.Is(aerr, unix.EAGAIN)
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", errListenerGone, err)
	}
	if aerr != nil {
		return nil, fmt.Errorf("accept: %w", aerr)
	}
	return os.NewFile(uintptr(nfd), "sctp-association"), nil
}

func greetAndEcho(c *os.File, reply string) {
	if _, err := fmt.Fprintln(c, reply); err != nil {
		return
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := fmt.Fprintln(c, sc.Text()); err != nil {
			return
		}
	}
}

// SCTPHello opens an association to a ServeSCTP server, reads its greeting
// and has one line echoed, and returns the greeting and the open
// association (the caller closes it).
func (ns *NS) SCTPHello(addr string, timeout time.Duration) (string, *SCTPConn, error) {
	c, err := ns.DialSCTP(addr, timeout)
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, *SCTPConn, error) {
		c.Close()
		return "", nil, fmt.Errorf("SCTP %s from %s: %w", addr, ns.Name, err)
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fail(err)
	}
	r := bufio.NewReader(c)
	hello, err := r.ReadString('\n')
	if err != nil {
		return fail(fmt.Errorf("greeting: %w", err))
	}
	if _, err := fmt.Fprintln(c, "ping"); err != nil {
		return fail(fmt.Errorf("writing: %w", err))
	}
	if echo, err := r.ReadString('\n'); err != nil || echo != "ping\n" {
		return fail(fmt.Errorf("echo of ping: %q, %v", echo, err))
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return strings.TrimSpace(hello), c, nil
}

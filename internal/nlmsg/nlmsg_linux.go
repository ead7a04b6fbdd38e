package nlmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// native is the host's byte order, netlink's.
var native = binary.NativeEndian

// Align rounds a message length up to netlink's alignment.
func Align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// Msg is one netlink message of a datagram: its header and payload, the
// payload cut short (Whole false) when the datagram ends first.
type Msg struct {
	Hdr   unix.NlMsghdr
	Data  []byte
	Whole bool
}

// Split takes the first message off the datagram b; ok is false when b
// does not begin with a header of a possible length.
func Split(b []byte) (m Msg, rest []byte, ok bool) {
	if len(b) < unix.SizeofNlMsghdr {
		return m, nil, false
	}
	m.Hdr = *(*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
	if m.Hdr.Len < unix.SizeofNlMsghdr {
		return m, nil, false
	}
	end := min(int(m.Hdr.Len), len(b))
	m.Data, m.Whole = b[unix.SizeofNlMsghdr:end], end == int(m.Hdr.Len)
	return m, b[min(Align(int(m.Hdr.Len)), len(b)):], true
}

// EachAttr calls f with the type (flags masked off) and value of every
// attribute of b, a message's attributes after its fixed header, and
// reports whether b was well formed to its end.
func EachAttr(b []byte, f func(typ uint16, v []byte)) bool {
	for len(b) >= unix.SizeofRtAttr {
		n := int(native.Uint16(b[0:2]))
		if n < unix.SizeofRtAttr || n > len(b) {
			return false
		}
		f(native.Uint16(b[2:4])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofRtAttr:n])
		b = b[min(Align(n), len(b)):]
	}
	return len(b) == 0
}

// Recv receives one datagram on fd into b, waiting up to timeout, and
// returns its length and its sender's port id (0: the kernel). A
// datagram longer than b fails rather than be parsed in part. It is
// recvfrom(2) itself, with the sender's address on the stack, where
// unix.Recvmsg allocated the address twice per datagram: a full resync
// receives two or three datagrams for each of 10,000 services.
func Recv(fd int, b []byte, timeout time.Duration) (int, uint32, error) {
	for {
		var from unix.RawSockaddrNetlink
		fromLen := uint32(unix.SizeofSockaddrNetlink)
		// MSG_TRUNC: the length returned is the datagram's, not what fit.
		r, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
			unix.MSG_DONTWAIT|unix.MSG_TRUNC, uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&fromLen)))
		n := int(r)
		switch {
		case errno == 0 && n > len(b):
			return 0, 0, fmt.Errorf("a netlink datagram of %d bytes was cut short to %d", n, len(b))
		case errno == 0:
			return n, from.Pid, nil
		case errno == unix.EINTR:
			continue
		case errno != unix.EAGAIN:
			return 0, 0, errno
		}
		if err := Wait(fd, timeout); err != nil {
			return 0, 0, err
		}
	}
}

// Wait waits up to timeout for fd to be readable; EAGAIN when it is not,
// what nl.NetlinkSocket.Receive returns on its timeout.
func Wait(fd int, timeout time.Duration) error {
	for {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		ready, err := unix.Poll(fds[:], int(timeout.Milliseconds()))
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return err
		case ready == 0:
			return unix.EAGAIN
		default:
			return nil
		}
	}
}

// Send sends the request b to the kernel. An unbound destination is the
// kernel (port 0), so this is write(2), without the address sendto takes
// and unix.Sendto allocates.
func Send(fd int, b []byte) error {
	n, err := unix.Write(fd, b)
	switch {
	case err != nil:
		return err
	case n != len(b):
		return fmt.Errorf("netlink request of %d bytes sent as %d", len(b), n)
	}
	return nil
}

// DumpBufSize is a dump's receive buffer: what nl.NetlinkSocket uses,
// and more than the kernel puts in one dump datagram.
const DumpBufSize = 64 << 10

// Dump reads the replies to the dump request numbered seq, sent on fd
// from port pid, into buf (DumpBufSize), and calls each with the payload
// of every reply, valid only during the call. An error from each ends the
// dump with it, after the rest of its replies are read, so the socket is
// left clean for the next request. interrupted: the kernel marked the
// dump NLM_F_DUMP_INTR (what it lists changed meanwhile, so some may be
// missing).
func Dump(fd int, buf []byte, seq, pid uint32, timeout time.Duration, each func([]byte) error) (interrupted bool, err error) {
	d := DumpReader{Seq: seq, Pid: pid, Each: each}
	for !d.Done {
		n, from, err := Recv(fd, buf, timeout)
		if err != nil {
			return false, fmt.Errorf("receiving netlink reply: %w", err)
		}
		if from != 0 {
			continue // not from the kernel
		}
		if err := d.Read(buf[:n]); err != nil {
			return false, err
		}
	}
	return d.Interrupted, d.Err
}

// DumpReader follows the replies of one dump request.
type DumpReader struct {
	Seq, Pid uint32
	Each     func([]byte) error
	// Done: the kernel ended the dump; Err is what ends it for the caller
	// (Each's first error or the kernel's). Interrupted: its NLMSG_DONE
	// had NLM_F_DUMP_INTR.
	Done        bool
	Err         error
	Interrupted bool
}

// Read takes the messages of one datagram. Messages of other requests
// (an abandoned one's late replies) are skipped; a malformed datagram is
// an error.
func (d *DumpReader) Read(b []byte) error {
	for len(b) > 0 && !d.Done {
		m, rest, ok := Split(b)
		switch {
		case !ok && len(b) < unix.SizeofNlMsghdr:
			return errors.New("short netlink message header")
		case !ok || !m.Whole:
			return fmt.Errorf("netlink message length %d in a datagram of %d bytes", m.Hdr.Len, len(b))
		}
		b = rest
		if m.Hdr.Seq == d.Seq && m.Hdr.Pid == d.Pid {
			d.take(m.Hdr, m.Data)
		}
	}
	return nil
}

// take handles one message of the dump.
func (d *DumpReader) take(h unix.NlMsghdr, data []byte) {
	switch h.Type {
	case unix.NLMSG_DONE:
		d.Done = true
		d.Interrupted = h.Flags&unix.NLM_F_DUMP_INTR != 0
	case unix.NLMSG_ERROR:
		d.Done = true
		if len(data) < 4 {
			d.Err = firstErr(d.Err, errors.New("short netlink error message"))
		} else if errno := int32(native.Uint32(data)); errno != 0 {
			d.Err = firstErr(d.Err, syscall.Errno(-errno))
		}
	default:
		if d.Err == nil {
			d.Err = d.Each(data)
		}
		d.Done = h.Flags&unix.NLM_F_MULTI == 0
	}
}

// firstErr is first unless it is nil.
func firstErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

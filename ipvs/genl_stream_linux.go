package ipvs

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// A full resync dumps every service's real servers: 100,000 messages at
// 10,000 Services x 10 endpoints. Received through nl.NetlinkSocket,
// each datagram was copied into a fresh buffer, split into a fresh slice
// of messages, and each message kept until its service was parsed: 33 of
// the 37 MB a dump allocated in a lab heap profile, some four collections'
// worth under the daemon's tight pacing, and collections slowed the
// changes that met them (issue 15, benchreport -trace). stream reads a
// dump into one buffer kept on the connection and hands each message to
// its parser before the next datagram.

// streamBufSize is the receive buffer of a streamed dump, what
// nl.NetlinkSocket uses. A datagram cut short fails the dump (MSG_TRUNC)
// rather than parse half of it.
const streamBufSize = 64 << 10

// stream sends one dump request (cmd, with the attributes attrs appends)
// and calls each with the payload of every reply, which is only valid
// during the call. An error from each ends the dump with it, after the
// rest of its replies are read, so the socket is left clean for the next
// request. The request is built in the connection's buffer too, not as
// an nl.NetlinkRequest: with the receive side, some 39 allocations fewer
// per service in the lab (TestStreamedDump).
func (c *genlConn) stream(cmd uint8, attrs func([]byte) []byte, each func([]byte) error) error {
	c.seq++
	b := append(c.wbuf[:0], noHeader[:]...)
	b = append(b, cmd, ipvsGenlVersion, 0, 0)
	b = attrs(b)
	c.wbuf = b
	native.PutUint32(b[0:4], uint32(len(b)))
	native.PutUint16(b[4:6], c.family)
	native.PutUint16(b[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_DUMP)
	native.PutUint32(b[8:12], c.seq)
	if err := unix.Sendto(c.sock.GetFd(), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sending netlink request: %w", err)
	}
	if c.rbuf == nil {
		c.rbuf = make([]byte, streamBufSize)
	}
	d := dumpReader{seq: c.seq, pid: c.pid, each: each}
	for !d.done {
		n, from, err := c.recv(c.rbuf)
		if err != nil {
			return fmt.Errorf("receiving netlink reply: %w", err)
		}
		if from != 0 {
			continue // not from the kernel
		}
		if err := d.read(c.rbuf[:n]); err != nil {
			return err
		}
	}
	return d.err
}

// appendServiceKey appends the IPVS_CMD_ATTR_SERVICE that names k, as
// serviceKeyAttr builds it.
func appendServiceKey(b []byte, k Key) []byte {
	n := len(b)
	b = appendAttrHeader(b, ipvsCmdAttrService)
	b = appendU16(b, svcAttrAF, familyToAF(k.Family))
	if k.IsFWMark() {
		b = appendU32(b, svcAttrFWMark, k.FWMark)
		return endNest(b, n)
	}
	b = appendU16(b, svcAttrProtocol, uint16(k.Protocol))
	if k.Address.Is4() {
		a := k.Address.As4()
		b = appendAttr(b, svcAttrAddr, a[:])
	} else {
		a := k.Address.As16()
		b = appendAttr(b, svcAttrAddr, a[:])
	}
	b = appendBE16(b, svcAttrPort, k.Port)
	return endNest(b, n)
}

// recv receives one datagram into b, waiting up to receiveTimeout, and
// returns its length and sender's port id.
func (c *genlConn) recv(b []byte) (int, uint32, error) {
	fd := c.sock.GetFd()
	for {
		n, _, flags, from, err := unix.Recvmsg(fd, b, nil, unix.MSG_DONTWAIT)
		switch {
		case err == nil && flags&unix.MSG_TRUNC != 0:
			return 0, 0, fmt.Errorf("a netlink datagram over %d bytes was cut short", len(b))
		case err == nil:
			var pid uint32
			if sa, ok := from.(*unix.SockaddrNetlink); ok {
				pid = sa.Pid
			}
			return n, pid, nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			return 0, 0, err
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		ready, err := unix.Poll(fds, int(receiveTimeout.Milliseconds()))
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return 0, 0, err
		case ready == 0:
			return 0, 0, unix.EAGAIN // what nl.NetlinkSocket.Receive returns on its timeout
		}
	}
}

// dumpReader follows the replies of one dump request.
type dumpReader struct {
	seq, pid uint32
	each     func([]byte) error
	// done: the kernel ended the dump; err is what ends it for the caller
	// (each's first error or the kernel's).
	done bool
	err  error
}

// read takes the messages of one datagram. Messages of other requests
// (an abandoned one's late replies) are skipped; a malformed datagram is
// an error.
func (d *dumpReader) read(b []byte) error {
	for len(b) > 0 && !d.done {
		m, rest, ok := splitMsg(b)
		switch {
		case !ok && len(b) < unix.SizeofNlMsghdr:
			return errors.New("short netlink message header")
		case !ok || !m.whole:
			return fmt.Errorf("netlink message length %d in a datagram of %d bytes", m.hdr.Len, len(b))
		}
		b = rest
		if m.hdr.Seq == d.seq && m.hdr.Pid == d.pid {
			d.take(m.hdr, m.data)
		}
	}
	return nil
}

// take handles one message of the dump.
func (d *dumpReader) take(h unix.NlMsghdr, data []byte) {
	switch h.Type {
	case unix.NLMSG_DONE:
		d.done = true
	case unix.NLMSG_ERROR:
		d.done = true
		if len(data) < 4 {
			d.err = firstErr(d.err, errors.New("short netlink error message"))
		} else if errno := int32(native.Uint32(data)); errno != 0 {
			d.err = firstErr(d.err, syscall.Errno(-errno))
		}
	default:
		if d.err == nil {
			d.err = d.each(data)
		}
		d.done = h.Flags&unix.NLM_F_MULTI == 0
	}
}

// firstErr is first unless it is nil.
func firstErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

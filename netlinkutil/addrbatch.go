package netlinkutil

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Bounds of one batch of address requests (one sendmsg).
const (
	// maxAddrBatch bounds the requests of one sendmsg. An address request
	// is 40 bytes (IPv4) or 64 (IPv6), so 512 of them are far below the
	// send buffer; what binds the batch is the receive buffer, which must
	// hold every ack at once (addrAckCost each).
	maxAddrBatch = 512
	// addrReceiveBuffer is the receive buffer asked for: the kernel queues
	// each request's ack before sendmsg returns and drops (ENOBUFS) what
	// no longer fits.
	addrReceiveBuffer = 1 << 20
	// addrAckCost is what one queued ack takes of the receive buffer, with
	// room: the kernel charges an skb's truesize, some 768 bytes on 6.1.
	addrAckCost = 1024
	// addrReceiveTimeout bounds each wait for an ack, so a lost one
	// surfaces as an error instead of a hung sync.
	addrReceiveTimeout = 10 * time.Second
)

// The requests of AddrAdd and AddrDel: what netlink.Handle sends, so a
// batch means to the kernel exactly what the same calls one by one would.
const (
	rtmNewAddr   = unix.RTM_NEWADDR
	newAddrFlags = unix.NLM_F_CREATE | unix.NLM_F_EXCL | unix.NLM_F_ACK
	rtmDelAddr   = unix.RTM_DELADDR
	delAddrFlags = unix.NLM_F_ACK
)

// addrConn sends RTM_NEWADDR and RTM_DELADDR requests many to one sendmsg,
// each with NLM_F_ACK and its own sequence number, and reads every ack
// back: the kernel processes and acks each request of a buffer on its own,
// a failed one included, so an EEXIST for one address fails only that one.
// It has a socket of its own, apart from the netlink.Handle's, because
// that one's replies are read by the library.
type addrConn struct {
	mu   sync.Mutex
	sock *nl.NetlinkSocket
	pid  uint32
	seq  uint32
	// maxBatch is how many requests one sendmsg may carry: as many as the
	// receive buffer holds acks for.
	maxBatch int
	// sendmsgs counts the batches sent.
	sendmsgs uint64
	// rbuf receives address dumps (nil until the first).
	rbuf []byte
}

func dialAddrConn(ns netns.NsHandle) (*addrConn, error) {
	sock, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening route netlink socket: %w", err)
	}
	c := &addrConn{sock: sock}
	if err := c.setUp(); err != nil {
		sock.Close()
		return nil, err
	}
	return c, nil
}

// setUp asks for acks without the request copied back (NETLINK_CAP_ACK,
// best effort: before 4.3 they are only longer) and a receive buffer that
// holds one batch's acks, and sizes batches by what it got.
func (c *addrConn) setUp() error {
	tv := unix.NsecToTimeval(addrReceiveTimeout.Nanoseconds())
	if err := c.sock.SetReceiveTimeout(&tv); err != nil {
		return fmt.Errorf("setting netlink receive timeout: %w", err)
	}
	pid, err := c.sock.GetPid()
	if err != nil {
		return fmt.Errorf("reading the netlink port id: %w", err)
	}
	c.pid = pid
	fd := c.sock.GetFd()
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	// SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN, which
	// adding addresses needs anyway; without it batches shrink to fit.
	if err := c.sock.SetReceiveBufferSize(addrReceiveBuffer, true); err != nil {
		if err := c.sock.SetReceiveBufferSize(addrReceiveBuffer, false); err != nil {
			return fmt.Errorf("setting the netlink receive buffer: %w", err)
		}
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return fmt.Errorf("reading the netlink receive buffer size: %w", err)
	}
	c.maxBatch = max(1, min(got/addrAckCost, maxAddrBatch))
	return nil
}

func (c *addrConn) close() { c.sock.Close() }

// write sends one request of type typ (with flags) per address of link
// index, and returns each one's outcome: nil for an ack, the bare errno of
// an error ack, or the error that left it unknown.
func (c *addrConn) write(typ uint16, flags int, index int, addrs []*netlink.Addr) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := make([]error, len(addrs))
	var buf []byte
	for lo := 0; lo < len(addrs); lo += c.maxBatch {
		hi := min(lo+c.maxBatch, len(addrs))
		var err error
		buf, err = c.encodeBatch(buf[:0], typ, flags, index, addrs[lo:hi])
		if err != nil {
			for i := lo; i < hi; i++ {
				errs[i] = err
			}
			continue
		}
		c.sendBatch(buf, errs[lo:hi])
	}
	return errs
}

// encodeBatch appends the requests for addrs, numbered from c.seq+1.
func (c *addrConn) encodeBatch(buf []byte, typ uint16, flags int, index int, addrs []*netlink.Addr) ([]byte, error) {
	for i, a := range addrs {
		b, err := appendAddrRequest(buf, typ, flags, index, a, c.seq+1+uint32(i))
		if err != nil {
			return buf, err
		}
		buf = b
	}
	return buf, nil
}

// sendBatch sends the encoded requests of one batch (len(errs) of them,
// numbered from c.seq+1) and records each ack in errs.
func (c *addrConn) sendBatch(buf []byte, errs []error) {
	first := c.seq + 1
	c.seq += uint32(len(errs))
	c.sendmsgs++
	if err := unix.Sendto(c.sock.GetFd(), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		// Refused before the kernel saw any of it (EMSGSIZE, ENOMEM).
		for i := range errs {
			errs[i] = fmt.Errorf("sending netlink request: %w", err)
		}
		return
	}
	for i := range errs {
		errs[i] = errNoAck
	}
	for left := len(errs); left > 0; {
		msgs, from, err := c.sock.Receive()
		if err != nil {
			for i, e := range errs {
				if e == errNoAck {
					errs[i] = fmt.Errorf("receiving netlink reply: %w", err)
				}
			}
			return
		}
		for _, m := range msgs {
			if takeAck(from.Pid, c.pid, first, m, errs) {
				left--
			}
		}
	}
}

// errNoAck marks a request whose ack has not come yet.
var errNoAck = errors.New("no ack yet")

// takeAck records m in errs if it is the kernel's ack of one of the
// requests numbered from first that is still awaited; it reports whether
// it was. Anything else (a reply to an abandoned request) is skipped.
func takeAck(from, pid, first uint32, m syscall.NetlinkMessage, errs []error) bool {
	i := int(m.Header.Seq - first)
	if from != 0 || m.Header.Pid != pid || m.Header.Type != unix.NLMSG_ERROR ||
		i < 0 || i >= len(errs) || errs[i] != errNoAck || len(m.Data) < 4 {
		return false
	}
	errs[i] = nil
	if errno := int32(nl.NativeEndian().Uint32(m.Data)); errno != 0 {
		errs[i] = syscall.Errno(-errno)
	}
	return true
}

// appendAddrRequest appends the request netlink.Handle's AddrAdd (typ
// RTM_NEWADDR, flags NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK) or AddrDel
// (RTM_DELADDR, NLM_F_ACK) sends for a, built the library's way, with
// sequence number seq. Only what ipvsd sets is supported: an address,
// mask, scope and flags; a peer, broadcast, label or lifetime is an error
// rather than quietly dropped.
func appendAddrRequest(buf []byte, typ uint16, flags int, index int, a *netlink.Addr, seq uint32) ([]byte, error) {
	if a == nil || a.IPNet == nil {
		return buf, fmt.Errorf("address request without an address: %w", unix.EINVAL)
	}
	if a.Peer != nil || a.Broadcast != nil || a.Label != "" || a.ValidLft != 0 || a.PreferedLft != 0 {
		return buf, fmt.Errorf("address %s: only address, mask, scope and flags can be batched", a.IPNet)
	}
	family := nl.GetIPFamily(a.IP)
	ip := a.IP.To16()
	if family == nl.FAMILY_V4 {
		ip = a.IP.To4()
	}
	ones, _ := a.Mask.Size()
	if family == nl.FAMILY_V4 && ones < 31 {
		// AddrAdd would add a broadcast address: not a host address.
		return buf, fmt.Errorf("address %s: only /31 and /32 IPv4 addresses can be batched", a.IPNet)
	}
	req := nl.NewNetlinkRequest(int(typ), flags)
	req.Seq = seq
	msg := nl.NewIfAddrmsg(family)
	msg.Scope = uint8(a.Scope)
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(ones)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip))
	if a.Flags > 0xff {
		req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(uint32(a.Flags))))
	} else {
		msg.Flags = uint8(a.Flags)
	}
	return append(buf, req.Serialize()...), nil
}

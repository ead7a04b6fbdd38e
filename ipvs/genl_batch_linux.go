package ipvs

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/internal/nlmsg"
)

// Bounds of one batch (one sendmsg of many requests).
const (
	// batchBytes bounds the requests of one sendmsg: the kernel refuses a
	// message longer than the send buffer (EMSGSIZE past sk_sndbuf - 32,
	// 212,992 bytes by default) and copies it into one socket buffer.
	// 64 KiB holds 400 to 700 IPVS requests.
	batchBytes = 64 << 10
	// receiveBuffer is the receive buffer asked for. The kernel queues
	// every ack of a sendmsg before sendmsg returns, and drops (ENOBUFS)
	// what no longer fits, so the acks of one batch must fit at once.
	receiveBuffer = 1 << 20
	// ackCost is what one queued ack takes of the receive buffer, with
	// room: the kernel charges an skb's truesize, some 768 bytes for a
	// 36-byte NLMSG_ERROR on 6.1.
	ackCost = 1024
	// ackSlot is the room for one received datagram: an ack is 36 bytes
	// with NETLINK_CAP_ACK, and carries the request back (under 256
	// bytes for ours) without it.
	ackSlot = 256
	// maxAckSlots bounds the acks read by one recvmmsg.
	maxAckSlots = 1024
)

// setUpBatches prepares the socket for batched writes: error acks without
// the request copied back (NETLINK_CAP_ACK, since 4.3; without it the
// acks are only bigger), and a receive buffer that holds one batch's
// acks. It returns how many requests one batch may carry.
func setUpBatches(fd int) (int, error) {
	// Best effort: an older kernel only sends longer error acks.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	// SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN, which
	// writing IPVS needs anyway; without it SO_RCVBUF gets what the
	// sysctl allows, and batches shrink to fit.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBuffer); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, receiveBuffer); err != nil {
			return 0, fmt.Errorf("setting the netlink receive buffer: %w", err)
		}
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, fmt.Errorf("reading the netlink receive buffer size: %w", err)
	}
	return max(1, min(got/ackCost, maxAckSlots)), nil
}

// chunks cuts requests (starting at starts in a buffer of length end)
// into batches of at most maxReqs requests and batchBytes bytes (a
// request longer than that goes alone). It returns each batch's first
// request; a pure function, so the batch sizes can be counted natively.
func chunks(starts []int, end, maxReqs int) []int {
	var out []int
	for lo := 0; lo < len(starts); {
		out = append(out, lo)
		hi := lo + 1
		for hi < len(starts) && hi-lo < maxReqs && next(starts, hi, end)-starts[lo] <= batchBytes {
			hi++
		}
		lo = hi
	}
	return out
}

// next is where request i ends.
func next(starts []int, i, end int) int {
	if i+1 < len(starts) {
		return starts[i+1]
	}
	return end
}

// writeBatch sends the write requests in b (back to back, request i
// starting at starts[i], sequence numbers unset) in as few sendmsg calls
// as the bounds allow, and returns each request's outcome: nil for an
// ack, the bare errno of an error ack, or the receive error that left it
// unknown (a lost ack: the kernel may have acted).
func (c *genlConn) writeBatch(b []byte, starts []int) []error {
	errs := make([]error, len(starts))
	cut := chunks(starts, len(b), c.maxBatch)
	for i, lo := range cut {
		hi := len(starts)
		if i+1 < len(cut) {
			hi = cut[i+1]
		}
		end := next(starts, hi-1, len(b))
		c.sendChunk(b[starts[lo]:end], starts[lo:hi], errs[lo:hi])
	}
	return errs
}

// sendChunk sends one batch, numbering its requests, and reads its acks.
func (c *genlConn) sendChunk(b []byte, starts []int, errs []error) {
	first := c.seq + 1
	base := starts[0]
	for i, s := range starts {
		native.PutUint32(b[s-base+8:], first+uint32(i))
	}
	c.seq += uint32(len(starts))
	c.sendmsgs++
	if err := unix.Sendto(c.sock.GetFd(), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		// Refused before the kernel saw any of it (EMSGSIZE, ENOMEM).
		for i := range errs {
			errs[i] = fmt.Errorf("sending netlink request: %w", err)
		}
		return
	}
	acks := ackSet{first: first, errs: errs, left: len(errs), pid: c.pid}
	for i := range errs {
		errs[i] = errNoAck
	}
	if err := c.readAcks(&acks); err != nil {
		for i, e := range errs {
			if e == errNoAck {
				errs[i] = fmt.Errorf("receiving netlink reply: %w", err)
			}
		}
	}
}

// errNoAck marks a request whose ack has not come yet.
var errNoAck = errors.New("no ack yet")

// ackSet is the acks awaited for one batch.
type ackSet struct {
	first uint32
	errs  []error
	left  int
	pid   uint32
}

// take records one message, if it is an awaited ack from the kernel.
func (a *ackSet) take(from uint32, h unix.NlMsghdr, data []byte) {
	i := int(h.Seq - a.first)
	if from != 0 || h.Pid != a.pid || h.Type != unix.NLMSG_ERROR || i < 0 || i >= len(a.errs) || a.errs[i] != errNoAck || len(data) < 4 {
		return // not ours, or a reply to an abandoned request
	}
	a.errs[i] = nil
	if errno := int32(native.Uint32(data)); errno != 0 {
		a.errs[i] = syscall.Errno(-errno)
	}
	a.left--
}

// readAcks reads until every ack of a has come. The kernel queues them all
// before sendmsg returns, so recvmmsg without waiting normally takes the
// lot in one call; waiting, up to receiveTimeout, is only for what is not
// there.
func (c *genlConn) readAcks(a *ackSet) error {
	if c.acks == nil {
		c.acks = newAckReader(c.maxBatch)
	}
	for a.left > 0 {
		n, err := c.acks.read(c.sock.GetFd())
		if err == nil {
			c.acks.deliver(n, a)
			continue
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return err
		}
		// Nothing queued yet: wait for it, as a streamed dump does, then
		// read again.
		if err := nlmsg.Wait(c.sock.GetFd(), receiveTimeout); err != nil {
			return err
		}
	}
	return nil
}

// mmsghdr is struct mmsghdr, which x/sys/unix does not define.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// ackReader holds the buffers of one recvmmsg, kept for the next.
type ackReader struct {
	buf   []byte
	iov   []unix.Iovec
	names []unix.RawSockaddrNetlink
	hdrs  []mmsghdr
}

func newAckReader(slots int) *ackReader {
	r := &ackReader{
		buf:   make([]byte, slots*ackSlot),
		iov:   make([]unix.Iovec, slots),
		names: make([]unix.RawSockaddrNetlink, slots),
		hdrs:  make([]mmsghdr, slots),
	}
	for i := range r.hdrs {
		r.iov[i].Base = &r.buf[i*ackSlot]
		r.iov[i].SetLen(ackSlot)
		r.hdrs[i].hdr.Iov = &r.iov[i]
		r.hdrs[i].hdr.SetIovlen(1)
		r.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	return r
}

// read receives up to one datagram per slot without waiting.
func (r *ackReader) read(fd int) (int, error) {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Namelen = unix.SizeofSockaddrNetlink
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.hdrs[0])),
		uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	runtime.KeepAlive(r)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// deliver hands the messages of the first n datagrams to a. A datagram
// cut short (MSG_TRUNC) still has its header and errno in front.
func (r *ackReader) deliver(n int, a *ackSet) {
	for i := range n {
		d := r.buf[i*ackSlot : i*ackSlot+int(r.hdrs[i].n)]
		for len(d) > 0 {
			m, rest, ok := nlmsg.Split(d)
			if !ok {
				break
			}
			a.take(r.names[i].Pid, m.Hdr, m.Data)
			d = rest
		}
	}
}

package ipvs

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Generic netlink numbers we need beyond what moby/ipvs exports
// (include/uapi/linux/genetlink.h and include/uapi/linux/ip_vs.h).
const (
	genlCtrlID            = 0x10
	genlCtrlCmdGetFamily  = 3
	genlCtrlAttrFamilyID  = 1
	genlCtrlAttrFamilyNam = 2

	ipvsGenlName    = "IPVS"
	ipvsGenlVersion = 1

	ipvsCmdGetService = 4
	ipvsCmdGetDest    = 8
	ipvsCmdGetInfo    = 15

	ipvsCmdAttrService = 1

	ipvsInfoAttrVersion     = 1
	ipvsInfoAttrConnTabSize = 2
)

// genlConn is a generic netlink socket bound to one network namespace,
// talking to the IPVS family. It is not safe for concurrent use: Handle
// serialises all calls.
type genlConn struct {
	sock   *nl.NetlinkSocket
	family uint16
	pid    uint32
	// seq numbers this socket's requests. Every reply carries its
	// request's number, so replies to an abandoned request are skipped.
	seq uint32
	// maxBatch is how many write requests one sendmsg may carry: as many
	// as the receive buffer holds acks for (setUpBatches).
	maxBatch int
	// sendmsgs counts the batches of writes sent.
	sendmsgs uint64
	acks     *ackReader
	// rbuf and wbuf are the receive and request buffers of streamed
	// dumps (stream), and dests the scratch list dumpDests parses into.
	rbuf, wbuf []byte
	dests      []DestinationState
	// lastServices is how many services the last service dump found.
	lastServices int
}

// receiveTimeout bounds each wait for a kernel reply, so a lost reply
// surfaces as an error instead of a hung sync.
const receiveTimeout = 10 * time.Second

func dialGenl(ns netns.NsHandle) (*genlConn, error) {
	sock, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("opening generic netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(receiveTimeout.Nanoseconds())
	if err := sock.SetReceiveTimeout(&tv); err != nil {
		sock.Close()
		return nil, fmt.Errorf("setting netlink receive timeout: %w", err)
	}
	c := &genlConn{sock: sock}
	if c.pid, err = sock.GetPid(); err != nil {
		sock.Close()
		return nil, fmt.Errorf("reading the netlink port id: %w", err)
	}
	if c.maxBatch, err = setUpBatches(sock.GetFd()); err != nil {
		sock.Close()
		return nil, err
	}
	if err := c.resolveFamily(); err != nil {
		sock.Close()
		return nil, err
	}
	return c, nil
}

func (c *genlConn) close() { c.sock.Close() }

// resolveFamily asks the generic netlink controller for the IPVS family's
// id. It fails with ENOENT when the kernel has no IPVS (module not loaded
// or not built), which is the clearest place to report that.
func (c *genlConn) resolveFamily() error {
	msgs, err := c.exchange(genlCtrlID, genlCtrlCmdGetFamily, 0,
		nl.NewRtAttr(genlCtrlAttrFamilyNam, nl.ZeroTerminated(ipvsGenlName)))
	if err != nil {
		return fmt.Errorf("looking up the IPVS generic netlink family (is ip_vs loaded?): %w", err)
	}
	for _, m := range msgs {
		attrs, err := parseGenl(m)
		if err != nil {
			return err
		}
		for _, a := range attrs {
			if a.Attr.Type == genlCtrlAttrFamilyID && len(a.Value) >= 2 {
				c.family = nl.NativeEndian().Uint16(a.Value)
				return nil
			}
		}
	}
	return errors.New("generic netlink controller returned no IPVS family id")
}

// genlHeader is struct genlmsghdr.
type genlHeader struct{ cmd, version uint8 }

func (h genlHeader) Len() int          { return 4 }
func (h genlHeader) Serialize() []byte { return []byte{h.cmd, h.version, 0, 0} }

// ipvs sends an IPVS command and returns the payloads of the replies.
func (c *genlConn) ipvs(cmd uint8, flags int, attrs ...nl.NetlinkRequestData) ([][]byte, error) {
	return c.exchange(int(c.family), cmd, flags, attrs...)
}

// exchange sends one request and collects its replies until the kernel
// says it is done: an ack, NLMSG_DONE after a dump, or an error, which is
// returned as the bare syscall.Errno so callers can wrap it.
func (c *genlConn) exchange(family int, cmd uint8, flags int, attrs ...nl.NetlinkRequestData) ([][]byte, error) {
	req := newRequest(family, cmd, flags, attrs...)
	c.seq++
	req.Seq = c.seq // ours, not nl's: writeBatch numbers from the same counter
	if err := c.sock.Send(req); err != nil {
		return nil, fmt.Errorf("sending netlink request: %w", err)
	}
	replies, err := c.collect(req.Seq)
	if err != nil {
		return nil, err
	}
	r := replies[req.Seq]
	if r.err != nil {
		return nil, r.err
	}
	return r.msgs, nil
}

// request is an IPVS command, asking for an ack.
func (c *genlConn) request(cmd uint8, flags int, attrs ...nl.NetlinkRequestData) *nl.NetlinkRequest {
	req := newRequest(int(c.family), cmd, flags, attrs...)
	c.seq++
	req.Seq = c.seq
	return req
}

func newRequest(family int, cmd uint8, flags int, attrs ...nl.NetlinkRequestData) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(family, flags|unix.NLM_F_ACK)
	req.AddData(genlHeader{cmd: cmd, version: ipvsGenlVersion})
	for _, a := range attrs {
		req.AddData(a)
	}
	return req
}

// reply is what the kernel answered to one request.
type reply struct {
	msgs [][]byte
	// err is the kernel's errno, nil for an ack.
	err error
	// done: an ack, an error, the end of a dump or a single reply came.
	done bool
}

// collect receives the replies to the requests with sequence numbers
// seqs, sent in that order, until the last one is done. Replies to
// earlier, abandoned requests are skipped.
func (c *genlConn) collect(seqs ...uint32) (map[uint32]*reply, error) {
	pid, err := c.sock.GetPid()
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]*reply, len(seqs))
	for _, s := range seqs {
		out[s] = &reply{}
	}
	last := out[seqs[len(seqs)-1]]
	for !last.done {
		msgs, from, err := c.sock.Receive()
		if err != nil {
			return nil, fmt.Errorf("receiving netlink reply: %w", err)
		}
		if from.Pid != 0 {
			continue // not from the kernel
		}
		for _, m := range msgs {
			r := out[m.Header.Seq]
			if r == nil || r.done || m.Header.Pid != pid {
				continue
			}
			if err := r.add(m); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (r *reply) add(m syscall.NetlinkMessage) error {
	switch m.Header.Type {
	case unix.NLMSG_DONE:
		r.done = true
	case unix.NLMSG_ERROR:
		if len(m.Data) < 4 {
			return errors.New("short netlink error message")
		}
		if errno := int32(nl.NativeEndian().Uint32(m.Data)); errno != 0 {
			r.err = syscall.Errno(-errno)
		}
		r.done = true
	default:
		r.msgs = append(r.msgs, m.Data)
		r.done = m.Header.Flags&unix.NLM_F_MULTI == 0
	}
	return nil
}

// parseGenl strips the generic netlink header from a reply and returns its
// top-level attributes.
func parseGenl(m []byte) ([]syscall.NetlinkRouteAttr, error) {
	if len(m) < 4 {
		return nil, errors.New("short generic netlink message")
	}
	attrs, err := nl.ParseRouteAttr(m[4:])
	if err != nil {
		return nil, fmt.Errorf("parsing generic netlink attributes: %w", err)
	}
	return attrs, nil
}

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
	req := nl.NewNetlinkRequest(family, flags|unix.NLM_F_ACK)
	req.AddData(genlHeader{cmd: cmd, version: ipvsGenlVersion})
	for _, a := range attrs {
		req.AddData(a)
	}
	if err := c.sock.Send(req); err != nil {
		return nil, fmt.Errorf("sending netlink request: %w", err)
	}
	pid, err := c.sock.GetPid()
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		msgs, from, err := c.sock.Receive()
		if err != nil {
			return nil, fmt.Errorf("receiving netlink reply: %w", err)
		}
		if from.Pid != 0 {
			continue // not from the kernel
		}
		for _, m := range msgs {
			if m.Header.Seq != req.Seq || m.Header.Pid != pid {
				continue // a stale reply to an earlier, abandoned request
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("short netlink error message")
				}
				if errno := int32(nl.NativeEndian().Uint32(m.Data)); errno != 0 {
					return nil, syscall.Errno(-errno)
				}
				return out, nil
			}
			out = append(out, m.Data)
			if m.Header.Flags&unix.NLM_F_MULTI == 0 {
				return out, nil
			}
		}
	}
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

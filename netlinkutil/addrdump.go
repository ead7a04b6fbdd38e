package netlinkutil

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// AddrDump calls each with every address of every link, of one family
// (unix.AF_INET, unix.AF_INET6) or both (AF_UNSPEC), from one RTM_GETADDR
// dump: the link's index and the address's prefix, the local address of a
// point-to-point link rather than its peer, IPv4 in its 4-byte form. A
// full resync lists some 10,000 VIPs at 10,000 Services: netlink.Handle's
// AddrList gives each a netlink.Addr of some 270 bytes with an IPNet of
// its own, 2.7 MB held beside the resync's IPVS dump. A dump the kernel
// marks interrupted (NLM_F_DUMP_INTR: the addresses changed meanwhile)
// fails with netlink.ErrDumpInterrupted, after each has seen part of it.
func (h *RouteHandle) AddrDump(family int, each func(linkIndex int, p netip.Prefix)) error {
	return h.addrs.dump(family, each)
}

func (c *addrConn) dump(family int, each func(int, netip.Prefix)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.Seq = c.seq
	req.AddData(nl.NewIfAddrmsg(family))
	if err := c.sock.Send(req); err != nil {
		return fmt.Errorf("sending address dump request: %w", err)
	}
	for {
		msgs, from, err := c.sock.Receive()
		if err != nil {
			return fmt.Errorf("receiving address dump: %w", err)
		}
		for _, m := range msgs {
			if from.Pid != 0 || m.Header.Pid != c.pid || m.Header.Seq != req.Seq {
				continue // a late ack of an abandoned batch
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
					return fmt.Errorf("address dump: %w", netlink.ErrDumpInterrupted)
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return errors.New("address dump: short error reply")
				}
				return fmt.Errorf("address dump: %w", syscall.Errno(-int32(nl.NativeEndian().Uint32(m.Data))))
			case unix.RTM_NEWADDR:
				if index, p, ok := parseAddrMsg(m.Data); ok {
					each(index, p)
				}
			}
		}
	}
}

// parseAddrMsg reads one RTM_NEWADDR message: an ifaddrmsg, then
// IFA_LOCAL (the link's own address) or, without it, IFA_ADDRESS.
func parseAddrMsg(b []byte) (index int, p netip.Prefix, ok bool) {
	if len(b) < unix.SizeofIfAddrmsg {
		return 0, p, false
	}
	msg := nl.DeserializeIfAddrmsg(b)
	attrs, err := nl.ParseRouteAttr(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return 0, p, false
	}
	var local, address []byte
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFA_LOCAL:
			local = a.Value
		case unix.IFA_ADDRESS:
			address = a.Value
		}
	}
	if local == nil {
		local = address
	}
	ip, ok := netip.AddrFromSlice(local)
	if !ok {
		return 0, p, false
	}
	return int(msg.Index), netip.PrefixFrom(ip.Unmap(), int(msg.Prefixlen)), true
}

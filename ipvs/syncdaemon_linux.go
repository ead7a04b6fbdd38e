package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Generic netlink numbers of the sync daemon commands
// (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewDaemon = 9
	ipvsCmdDelDaemon = 10
	ipvsCmdGetDaemon = 11

	ipvsCmdAttrDaemon = 3

	daemonAttrState       = 1
	daemonAttrMcastIfn    = 2
	daemonAttrSyncID      = 3
	daemonAttrSyncMaxLen  = 4
	daemonAttrMcastGroup  = 5
	daemonAttrMcastGroup6 = 6
	daemonAttrMcastPort   = 7
	daemonAttrMcastTTL    = 8
)

var _ SyncDaemons = (*Handle)(nil)

// SyncDaemons lists the running sync daemons, master first, as the
// kernel's dump does.
func (h *Handle) SyncDaemons() ([]SyncDaemon, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// GET_DAEMON has only a dump handler: without NLM_F_DUMP the kernel
	// answers EOPNOTSUPP.
	msgs, err := h.genl.ipvs(ipvsCmdGetDaemon, unix.NLM_F_DUMP)
	if err != nil {
		return nil, fmt.Errorf("reading IPVS sync daemons: %w", err)
	}
	out := make([]SyncDaemon, 0, len(msgs))
	for _, m := range msgs {
		attrs, err := nestedIn(m, ipvsCmdAttrDaemon)
		if err != nil {
			return nil, fmt.Errorf("parsing IPVS sync daemon: %w", err)
		}
		out = append(out, parseSyncDaemon(attrs))
	}
	return out, nil
}

// StartSyncDaemon starts d (ipvsadm --start-daemon).
func (h *Handle) StartSyncDaemon(d SyncDaemon) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.genl.ipvs(ipvsCmdNewDaemon, 0, syncDaemonAttr(d)); err != nil {
		return fmt.Errorf("starting IPVS %s sync daemon on %s (sync ID %d): %w", d.State, d.Interface, d.SyncID, err)
	}
	return nil
}

// StopSyncDaemon stops the daemon of that role (ipvsadm --stop-daemon).
func (h *Handle) StopSyncDaemon(s SyncState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.genl.stopDaemon(s); err != nil {
		return fmt.Errorf("stopping IPVS %s sync daemon: %w", s, err)
	}
	return nil
}

// errNoReply is a stop the kernel did not answer although the daemon
// still runs.
var errNoReply = errors.New("no reply from the kernel, and the daemon still runs")

// stopDaemon sends DEL_DAEMON followed, on the same socket, by a listing
// of the daemons. The kernel sends no reply at all to a stop whose kernel
// thread had not run yet (right after a start): kthread_stop returns
// EINTR, and netlink_rcv_skb sends no ack for EINTR, yet the daemon is
// stopped. The kernel handles one socket's requests in order as they are
// sent, so the stop's reply, if there is one, comes before the listing's;
// a listing with no reply before it says itself whether the daemon stopped.
func (c *genlConn) stopDaemon(s SyncState) error {
	a := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(s)))
	del := c.request(ipvsCmdDelDaemon, 0, a)
	list := c.request(ipvsCmdGetDaemon, unix.NLM_F_DUMP)
	for _, req := range []*nl.NetlinkRequest{del, list} {
		if err := c.sock.Send(req); err != nil {
			return fmt.Errorf("sending netlink request: %w", err)
		}
	}
	replies, err := c.collect(del.Seq, list.Seq)
	if err != nil {
		return err
	}
	if r := replies[del.Seq]; r.done {
		return r.err
	}
	if r := replies[list.Seq]; r.err != nil {
		return fmt.Errorf("listing the daemons after a stop with no reply: %w", r.err)
	}
	for _, m := range replies[list.Seq].msgs {
		attrs, err := nestedIn(m, ipvsCmdAttrDaemon)
		if err != nil {
			return fmt.Errorf("parsing IPVS sync daemon: %w", err)
		}
		if parseSyncDaemon(attrs).State == s {
			return errNoReply
		}
	}
	return nil
}

// syncDaemonAttr is the IPVS_CMD_ATTR_DAEMON nest for d, with the
// optional attributes only where d sets them, so the kernel picks its
// defaults for the others. The port is a native u16 (the kernel converts
// it when it opens the socket); the groups are addresses in network
// order.
func syncDaemonAttr(d SyncDaemon) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(d.State)))
	a.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
	a.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(uint32(d.SyncID)))
	if d.MaxLen != 0 {
		a.AddRtAttr(daemonAttrSyncMaxLen, nl.Uint16Attr(d.MaxLen))
	}
	switch {
	case d.Group.Is4():
		a.AddRtAttr(daemonAttrMcastGroup, d.Group.AsSlice())
	case d.Group.IsValid():
		a.AddRtAttr(daemonAttrMcastGroup6, d.Group.AsSlice())
	}
	if d.Port != 0 {
		a.AddRtAttr(daemonAttrMcastPort, nl.Uint16Attr(d.Port))
	}
	if d.TTL != 0 {
		a.AddRtAttr(daemonAttrMcastTTL, []byte{d.TTL})
	}
	return a
}

func parseSyncDaemon(attrs []syscall.NetlinkRouteAttr) SyncDaemon {
	var d SyncDaemon
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type & nlaTypeMask {
		case daemonAttrState:
			if len(v) >= 4 {
				d.State = SyncState(binary.NativeEndian.Uint32(v))
			}
		case daemonAttrMcastIfn:
			d.Interface = cString(v)
		case daemonAttrSyncID:
			if len(v) >= 4 {
				d.SyncID = uint8(binary.NativeEndian.Uint32(v))
			}
		case daemonAttrSyncMaxLen:
			if len(v) >= 2 {
				d.MaxLen = binary.NativeEndian.Uint16(v)
			}
		case daemonAttrMcastGroup, daemonAttrMcastGroup6:
			if g, ok := netip.AddrFromSlice(v); ok {
				d.Group = g
			}
		case daemonAttrMcastPort:
			if len(v) >= 2 {
				d.Port = binary.NativeEndian.Uint16(v)
			}
		case daemonAttrMcastTTL:
			if len(v) >= 1 {
				d.TTL = v[0]
			}
		}
	}
	return d
}

// cString is a NUL-terminated attribute's text.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

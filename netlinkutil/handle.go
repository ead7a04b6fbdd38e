package netlinkutil

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Handle lists the rtnetlink calls this package makes, and nothing more.
// *RouteHandle implements it; so does netlinktest.Fake.
type Handle interface {
	LinkByName(name string) (netlink.Link, error)
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkSetUp(link netlink.Link) error
	AddrDump(family int, each func(linkIndex int, p netip.Prefix)) error
	AddrBatcher
}

// AddrBatcher adds or removes many addresses of one link at once, in as
// few sendmsg calls as it can, and returns each address's outcome (nil,
// or the bare errno the kernel answered it with): the requests stay
// independent, so one address's EEXIST fails only that one.
type AddrBatcher interface {
	AddrAddBatch(link netlink.Link, addrs []*netlink.Addr) []error
	AddrDelBatch(link netlink.Link, addrs []*netlink.Addr) []error
}

// ConntrackHandle is the one conntrack call this package makes.
type ConntrackHandle interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

var (
	_ Handle          = (*RouteHandle)(nil)
	_ ConntrackHandle = (*RouteHandle)(nil)
)

// RouteHandle is a netlink handle with a socket of its own for batched
// address writes.
type RouteHandle struct {
	*netlink.Handle
	addrs *addrConn
}

// AddrAddBatch adds addrs to link as AddrAdd would, many to one sendmsg.
func (h *RouteHandle) AddrAddBatch(link netlink.Link, addrs []*netlink.Addr) []error {
	return h.addrs.write(rtmNewAddr, newAddrFlags, link.Attrs().Index, addrs)
}

// AddrDelBatch removes addrs from link as AddrDel would, many to one
// sendmsg.
func (h *RouteHandle) AddrDelBatch(link netlink.Link, addrs []*netlink.Addr) []error {
	return h.addrs.write(rtmDelAddr, delAddrFlags, link.Attrs().Index, addrs)
}

// AddrSendmsgs is the number of sendmsg calls that carried batched
// address writes.
func (h *RouteHandle) AddrSendmsgs() uint64 {
	h.addrs.mu.Lock()
	defer h.addrs.mu.Unlock()
	return h.addrs.sendmsgs
}

// Close closes both sockets.
func (h *RouteHandle) Close() {
	h.addrs.close()
	h.Handle.Close()
}

// OpenHandle opens a netlink handle (route and netfilter sockets) in the
// network namespace at nsPath, such as /var/run/netns/lb or
// /proc/1234/ns/net; an empty nsPath means the caller's own namespace. The
// sockets stay bound to that namespace for their whole life, whichever
// thread later uses them, so no thread switching is needed afterwards. The
// caller closes the handle.
func OpenHandle(nsPath string) (*RouteHandle, error) {
	ns := netns.None()
	if nsPath != "" {
		var err error
		if ns, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("opening network namespace %s: %w", nsPath, err)
		}
		// The sockets hold their own reference to the namespace.
		defer ns.Close()
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("opening netlink handle%s: %w", in(nsPath), err)
	}
	c, err := dialAddrConn(ns)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("opening netlink handle%s: %w", in(nsPath), err)
	}
	return &RouteHandle{Handle: h, addrs: c}, nil
}

// in names the namespace in an error, if it is not the caller's.
func in(nsPath string) string {
	if nsPath == "" {
		return ""
	}
	return " in " + nsPath
}

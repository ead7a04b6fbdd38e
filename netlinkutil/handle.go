package netlinkutil

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Handle lists the rtnetlink calls this package makes, and nothing more.
// *netlink.Handle implements it; so does netlinktest.Fake.
type Handle interface {
	LinkByName(name string) (netlink.Link, error)
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkSetUp(link netlink.Link) error
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrAdd(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
}

// ConntrackHandle is the one conntrack call this package makes.
type ConntrackHandle interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

var (
	_ Handle          = (*netlink.Handle)(nil)
	_ ConntrackHandle = (*netlink.Handle)(nil)
)

// OpenHandle opens a netlink handle (route and netfilter sockets) in the
// network namespace at nsPath, such as /var/run/netns/lb or
// /proc/1234/ns/net; an empty nsPath means the caller's own namespace. The
// sockets stay bound to that namespace for their whole life, whichever
// thread later uses them, so no thread switching is needed afterwards. The
// caller closes the handle.
func OpenHandle(nsPath string) (*netlink.Handle, error) {
	if nsPath == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("opening netlink handle: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", nsPath, err)
	}
	// The sockets hold their own reference to the namespace.
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("opening netlink handle in %s: %w", nsPath, err)
	}
	return h, nil
}

package netlinkutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// FirstIPv4Toward returns the first IPv4 address of the interface the
// kernel routes dst through: a BGP speaker's default router ID, taken
// from the interface it peers over. dst may be IPv6 (the interface of an
// IPv6 peering then needs an IPv4 address too).
func FirstIPv4Toward(dst netip.Addr) (netip.Addr, error) {
	routes, err := netlink.RouteGet(net.IP(dst.AsSlice()))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %s: %w", dst, err)
	}
	if len(routes) == 0 {
		return netip.Addr{}, fmt.Errorf("no route to %s", dst)
	}
	link, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface of the route to %s: %w", dst, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && !ip.IsLoopback() {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New(link.Attrs().Name + ", the interface toward " + dst.String() + ", has no IPv4 address")
}

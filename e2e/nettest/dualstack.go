package nettest

import (
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

// AddFamily makes a peer dual-stack: it gives the namespace's eth0 addr
// and the caller's end host, on the /24 (or /64) of addr, and a default
// route of addr's family back through host, as NewPeer does for the first
// family. They go when the veth and the namespace do, in NewPeer's
// t.Cleanup. It returns addr parsed.
func (p *Peer) AddFamily(t testing.TB, addr, host string) net.IP {
	t.Helper()
	ip, hostIP := net.ParseIP(addr), net.ParseIP(host)
	if ip == nil || hostIP == nil {
		t.Fatalf("AddFamily %s: bad addresses %q, %q", p.Name, addr, host)
	}
	bits, plen := 32, 24
	if ip.To4() == nil {
		bits, plen = 128, 64
	}
	if (p.Addr.To4() == nil) == (bits == 128) {
		t.Fatalf("AddFamily %s: %s is of the family %s already has", p.Name, addr, p.Addr)
	}
	mask := net.CIDRMask(plen, bits)
	withFlags := func(a net.IP) *netlink.Addr {
		na := &netlink.Addr{IPNet: &net.IPNet{IP: a, Mask: mask}}
		if bits == 128 {
			na.Flags = nodad
		}
		return na
	}
	hl, err := netlink.LinkByName(p.HostLink)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(hl, withFlags(hostIP)); err != nil {
		t.Fatalf("address %s on %s: %v", host, p.HostLink, err)
	}
	err = p.Netlink(func(h *netlink.Handle) error {
		l, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := h.AddrAdd(l, withFlags(ip)); err != nil {
			return fmt.Errorf("address %s: %w", addr, err)
		}
		return h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: hostIP})
	})
	if err != nil {
		t.Fatalf("configuring %s in %s: %v", addr, p.Name, err)
	}
	return ip
}

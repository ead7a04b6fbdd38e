package nettest

import (
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

// Peer is a namespace joined to the caller's namespace by a veth pair: the
// caller's end is HostLink with HostAddr, the namespace's end is eth0 with
// Addr, and the namespace's default route points back at HostAddr, so the
// caller's namespace routes for it (as a node routes for its pods).
type Peer struct {
	*NS
	HostLink string
	HostAddr net.IP
	Addr     net.IP
}

// NewPeer creates namespace name and a veth pair to it on the /24 (or /64)
// network of addr: the namespace gets addr, the caller's side gets host.
// Both are removed in t.Cleanup.
func NewPeer(t testing.TB, name, addr, host string) *Peer {
	t.Helper()
	ip, hostIP := net.ParseIP(addr), net.ParseIP(host)
	if ip == nil || hostIP == nil {
		t.Fatalf("NewPeer %s: bad addresses %q, %q", name, addr, host)
	}
	bits, plen := 32, 24
	if ip.To4() == nil {
		bits, plen = 128, 64
	}
	ns := NewNS(t, name)
	hostLink := "v" + name
	if len(hostLink) > 15 {
		hostLink = hostLink[:15]
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostLink}, PeerName: hostLink + "p"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth %s: %v", hostLink, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostLink); err == nil {
			_ = netlink.LinkDel(l) // already gone when the namespace went first
		}
	})
	peer, err := netlink.LinkByName(hostLink + "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsFd(peer, int(ns.handle)); err != nil {
		t.Fatalf("moving %s into %s: %v", peer.Attrs().Name, name, err)
	}
	hl, err := netlink.LinkByName(hostLink)
	if err != nil {
		t.Fatal(err)
	}
	mask := net.CIDRMask(plen, bits)
	hostNet := &netlink.Addr{IPNet: &net.IPNet{IP: hostIP, Mask: mask}}
	if bits == 128 {
		hostNet.Flags = nodad
	}
	if err := netlink.AddrAdd(hl, hostNet); err != nil {
		t.Fatalf("address %s on %s: %v", host, hostLink, err)
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		t.Fatal(err)
	}
	err = ns.Netlink(func(h *netlink.Handle) error {
		l, err := h.LinkByName(hostLink + "p")
		if err != nil {
			return err
		}
		if err := h.LinkSetName(l, "eth0"); err != nil {
			return err
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: mask}}
		if bits == 128 {
			a.Flags = nodad
		}
		if err := h.AddrAdd(l, a); err != nil {
			return err
		}
		if err := h.LinkSetUp(l); err != nil {
			return err
		}
		return h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: hostIP})
	})
	if err != nil {
		t.Fatalf("configuring %s: %v", name, err)
	}
	return &Peer{NS: ns, HostLink: hostLink, HostAddr: hostIP, Addr: ip}
}

// nodad skips duplicate address detection so IPv6 addresses work at once.
const nodad = 0x02 // IFA_F_NODAD

// String names the peer for test messages.
func (p *Peer) String() string { return fmt.Sprintf("%s(%s)", p.Name, p.Addr) }

// AddAddrs adds more addresses to the namespace's eth0, each as a host
// address (/32 or /128) inside the peer's network: the caller's side
// reaches them over the same veth by neighbour discovery, so one
// namespace stands in for several pods.
func (p *Peer) AddAddrs(t testing.TB, addrs ...net.IP) {
	t.Helper()
	err := p.Netlink(func(h *netlink.Handle) error {
		l, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		for _, ip := range addrs {
			bits := 128
			if ip.To4() != nil {
				bits = 32
			}
			a := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}}
			if bits == 128 {
				a.Flags = nodad
			}
			if err := h.AddrAdd(l, a); err != nil {
				return fmt.Errorf("adding %s: %w", ip, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("addresses on %s: %v", p, err)
	}
}

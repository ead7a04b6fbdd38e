package nettest

import (
	"fmt"
	"testing"

	"github.com/vishvananda/netlink"
)

// Bridge is a Linux bridge in the caller's namespace: a switched LAN that
// namespaces join with Attach, as hosts on one segment (a router, the
// directors and DR real servers, which must share layer 2).
type Bridge struct {
	Name  string
	ports int
}

// NewBridge creates bridge name, up, and removes it in t.Cleanup.
func NewBridge(t testing.TB, name string) *Bridge {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatalf("adding bridge %s (is the bridge module there?): %v", name, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	if err := netlink.LinkSetUp(br); err != nil {
		t.Fatalf("bridge %s up: %v", name, err)
	}
	return &Bridge{Name: name}
}

// Attach joins ns to the bridge by a veth pair: the namespace's end is
// ifname with cidr ("10.11.1.2/24"), the other end a port of the bridge.
func (b *Bridge) Attach(t testing.TB, ns *NS, ifname, cidr string) {
	t.Helper()
	b.ports++
	port := fmt.Sprintf("%s-p%d", b.Name, b.ports)
	if len(port) > 15 {
		t.Fatalf("bridge port name %q is too long", port)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: port + "x"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth %s: %v", port, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(port); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	br, err := netlink.LinkByName(b.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := netlink.LinkByName(port)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetMaster(p, br); err != nil {
		t.Fatalf("%s into bridge %s: %v", port, b.Name, err)
	}
	if err := netlink.LinkSetUp(p); err != nil {
		t.Fatal(err)
	}
	moveAndConfigure(t, port+"x", ns, ifname, cidr)
}

// moveAndConfigure moves link (in the caller's namespace) into ns, renames
// it ifname, gives it cidr and brings it up.
func moveAndConfigure(t testing.TB, link string, ns *NS, ifname, cidr string) {
	t.Helper()
	l, err := netlink.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsFd(l, int(ns.handle)); err != nil {
		t.Fatalf("moving %s into %s: %v", link, ns.Name, err)
	}
	err = ns.Netlink(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		if err := h.LinkSetName(l, ifname); err != nil {
			return err
		}
		return linkUp(h, ifname, cidr)
	})
	if err != nil {
		t.Fatalf("configuring %s in %s: %v", ifname, ns.Name, err)
	}
}

// SetLink brings ifname in ns up or down: a cable pulled and plugged back.
func (ns *NS) SetLink(ifname string, up bool) error {
	return ns.Netlink(func(h *netlink.Handle) error {
		l, err := h.LinkByName(ifname)
		if err != nil {
			return err
		}
		if up {
			return h.LinkSetUp(l)
		}
		return h.LinkSetDown(l)
	})
}

// AddAddress adds cidr to ifname in ns ("lo" for a DR real server's VIP).
func (ns *NS) AddAddress(ifname, cidr string) error {
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	return ns.Netlink(func(h *netlink.Handle) error {
		l, err := h.LinkByName(ifname)
		if err != nil {
			return err
		}
		return h.AddrAdd(l, a)
	})
}

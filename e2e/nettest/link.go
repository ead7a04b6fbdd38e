package nettest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// Link joins two namespaces by a veth pair: aIf with aAddr in a, bIf with
// bAddr in b (addresses in CIDR form, 10.60.0.1/24), both up. Two
// directors' sync link, or a director and its client, are such links. The
// pair goes with either namespace.
func Link(t testing.TB, a *NS, aIf, aAddr string, b *NS, bIf, bAddr string) {
	t.Helper()
	// Created inside a, so only b's end has to move and the names never
	// meet the caller's namespace.
	err := a.Netlink(func(h *netlink.Handle) error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aIf}, PeerName: bIf, PeerNamespace: netlink.NsFd(b.handle)}
		if err := h.LinkAdd(veth); err != nil {
			return fmt.Errorf("adding veth %s/%s: %w", aIf, bIf, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct {
		ns         *NS
		name, addr string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if err := end.ns.Netlink(func(h *netlink.Handle) error { return linkUp(h, end.name, end.addr) }); err != nil {
			t.Fatalf("netns %s: %v", end.ns.Name, err)
		}
	}
}

func linkUp(h *netlink.Handle, name, cidr string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	if a.IP.To4() == nil {
		a.Flags = nodad
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", cidr, name, err)
	}
	return h.LinkSetUp(l)
}

// DefaultRoute points the namespace's default route at gw, which must be
// on one of its links.
func (ns *NS) DefaultRoute(t testing.TB, gw string) {
	t.Helper()
	ip := net.ParseIP(gw)
	if err := ns.Netlink(func(h *netlink.Handle) error { return h.RouteAdd(&netlink.Route{Gw: ip}) }); err != nil {
		t.Fatalf("netns %s: default route via %s: %v", ns.Name, gw, err)
	}
}

// Command is name with args run inside the namespace (`ip netns exec`,
// which also gives it the namespace's /proc/sys/net and /sys).
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("/sbin/ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command in the namespace and returns its output, failing t
// on error.
func (ns *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := ns.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("netns %s: %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

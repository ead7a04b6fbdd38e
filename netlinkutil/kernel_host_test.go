package netlinkutil

// These tests run against this host's real kernel, inside the private
// network namespace TestMain puts the binary in. The host kernel has no
// dummy driver, so a bridge (another link type that needs no peer) stands
// in for the dummy where the test is about addresses, not the link type;
// the kernel lab (e2e/guest/netlinkkernel) covers the real dummy.

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/netlinkutil/netlinktest"
)

func bridgeLink(name string) netlink.Link {
	return &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
}

func openHandle(t *testing.T, nsPath string) *RouteHandle {
	t.Helper()
	h, err := OpenHandle(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func deleteLink(t *testing.T, h *RouteHandle, name string) {
	t.Cleanup(func() {
		if l, err := h.LinkByName(name); err == nil {
			if err := h.LinkDel(l); err != nil {
				t.Errorf("deleting %s: %v", name, err)
			}
		}
	})
}

// TestAddressConformance runs the same address sequence against the real
// kernel and the fake: the fake must fail exactly where the kernel does.
func TestAddressConformance(t *testing.T) {
	t.Run("kernel", func(t *testing.T) {
		h := openHandle(t, "")
		deleteLink(t, h, "ipvs0")
		d := NewDummy(h, "ipvs0")
		d.newLink = bridgeLink
		addressSequence(t, d)
	})
	t.Run("fake", func(t *testing.T) {
		addressSequence(t, NewDummy(netlinktest.New(), "ipvs0"))
	})
}

func addressSequence(t *testing.T, d *Dummy) {
	if created, err := d.Ensure(); err != nil || !created {
		t.Fatalf("Ensure: created=%v, %v", created, err)
	}
	if created, err := d.Ensure(); err != nil || created {
		t.Fatalf("Ensure again: created=%v, %v", created, err)
	}
	for _, ip := range []netip.Addr{vip4, vip6} {
		if err := d.AddAddress(ip); err != nil {
			t.Fatal(err)
		}
		if err := d.AddAddress(ip); !errors.Is(err, unix.EEXIST) {
			t.Errorf("adding %s twice: got %v, want EEXIST", ip, err)
		}
	}
	got, err := d.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Prefix{HostPrefix(vip4), HostPrefix(vip6)}; !equalPrefixes(got, want) {
		t.Errorf("Addresses = %v, want %v", got, want)
	}
	for _, ip := range []netip.Addr{vip4, vip6} {
		if err := d.DelAddress(ip); err != nil {
			t.Fatal(err)
		}
		if err := d.DelAddress(ip); !errors.Is(err, unix.EADDRNOTAVAIL) {
			t.Errorf("removing %s twice: got %v, want EADDRNOTAVAIL", ip, err)
		}
	}
	if got, err := d.Addresses(); err != nil || len(got) != 0 {
		t.Errorf("Addresses after removal = %v, %v", got, err)
	}
}

func equalPrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestKernelIPv6VIPUsableAtOnce: without IFA_F_NODAD the address would be
// tentative (and, on a link without carrier, stay so), and binding to it
// would fail with EADDRNOTAVAIL.
func TestKernelIPv6VIPUsableAtOnce(t *testing.T) {
	h := openHandle(t, "")
	deleteLink(t, h, "ipvs6")
	d := NewDummy(h, "ipvs6")
	d.newLink = bridgeLink
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip6); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(vip6, 0).String())
	if err != nil {
		t.Fatalf("binding to the new VIP %s: %v", vip6, err)
	}
	pc.Close()
}

func TestKernelWrongLinkType(t *testing.T) {
	h := openHandle(t, "")
	deleteLink(t, h, "ipvs0")
	if err := h.LinkAdd(bridgeLink("ipvs0")); err != nil {
		t.Fatal(err)
	}
	// The production Dummy, which wants a real dummy, must refuse it
	// before ever trying to create one.
	if _, err := NewDummy(h, "ipvs0").Ensure(); !errors.Is(err, ErrWrongLinkType) {
		t.Fatalf("got %v, want ErrWrongLinkType", err)
	}
}

func TestKernelLocalAddressesElsewhere(t *testing.T) {
	h := openHandle(t, "")
	deleteLink(t, h, "ipvs0")
	deleteLink(t, h, "other0")
	// lo holds 127.0.0.1 only while up, and a fresh namespace's lo is down.
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	d := NewDummy(h, "ipvs0")
	d.newLink = bridgeLink
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkAdd(bridgeLink("other0")); err != nil {
		t.Fatal(err)
	}
	other, err := h.LinkByName("other0")
	if err != nil {
		t.Fatal(err)
	}
	onOther := netip.MustParseAddr("198.51.100.7")
	a, _ := netlink.ParseAddr("198.51.100.7/24")
	if err := h.AddrAdd(other, a); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	local, err := d.LocalAddresses(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	if !local.Elsewhere[onOther] || !local.Elsewhere[netip.MustParseAddr("127.0.0.1")] || local.Elsewhere[vip4] {
		t.Errorf("Elsewhere = %v; want 198.51.100.7 and 127.0.0.1, not %s", local.Elsewhere, vip4)
	}
	if !equalPrefixes(local.Dummy, []netip.Prefix{HostPrefix(vip4)}) {
		t.Errorf("Dummy = %v, want only %s", local.Dummy, vip4)
	}
	// The link vanishes: the kernel's ENODEV comes back, and Ensure
	// recreates it.
	l, _ := h.LinkByName("ipvs0")
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip6); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("adding to a deleted link: got %v, want ENODEV", err)
	}
	if _, err := d.LocalAddresses(unix.AF_UNSPEC); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("listing a deleted link: got %v, want ENODEV", err)
	}
	if created, err := d.Ensure(); err != nil || !created {
		t.Fatalf("Ensure: created=%v, %v", created, err)
	}
}

// TestKernelOtherNamespace drives a link in a namespace given by path,
// without the calling thread ever entering it.
func TestKernelOtherNamespace(t *testing.T) {
	ns := nettest.NewNS(t, "nlu-other")
	h := openHandle(t, "/var/run/netns/nlu-other")
	d := NewDummy(h, "ipvs0")
	d.newLink = bridgeLink
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName("ipvs0"); err == nil {
		t.Error("ipvs0 appeared in the caller's namespace")
	}
	err := ns.Netlink(func(nh *netlink.Handle) error {
		l, err := nh.LinkByName("ipvs0")
		if err != nil {
			return err
		}
		addrs, err := nh.AddrList(l, unix.AF_INET)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || !addrs[0].IP.Equal(vip4.AsSlice()) {
			t.Errorf("addresses in nlu-other: %v", addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

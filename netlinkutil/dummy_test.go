package netlinkutil

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/netlinkutil/netlinktest"
)

var (
	vip4 = netip.MustParseAddr("192.0.2.10")
	vip6 = netip.MustParseAddr("2001:db8::10")
)

func TestEnsureCreatesOnceAndSetsUp(t *testing.T) {
	f := netlinktest.New()
	d := NewDummy(f, "ipvs0")
	created, err := d.Ensure()
	if err != nil || !created {
		t.Fatalf("first Ensure: created=%v, %v", created, err)
	}
	created, err = d.Ensure()
	if err != nil || created {
		t.Fatalf("second Ensure: created=%v, %v", created, err)
	}
	want := "1: lo device up\n    127.0.0.1/8\n    ::1/128\n2: ipvs0 dummy up\n    fe80::2/64\n"
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestEnsureSetsUpExistingDownDummy(t *testing.T) {
	f := netlinktest.New()
	if err := f.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "ipvs0"}}); err != nil {
		t.Fatal(err)
	}
	created, err := NewDummy(f, "ipvs0").Ensure()
	if err != nil || created {
		t.Fatalf("Ensure: created=%v, %v", created, err)
	}
	if l, _ := f.LinkByName("ipvs0"); l.Attrs().OperState == netlink.OperDown {
		t.Error("ipvs0 was left down")
	}
}

func TestEnsureRefusesOtherLinkType(t *testing.T) {
	f := netlinktest.New()
	if err := f.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "ipvs0"}}); err != nil {
		t.Fatal(err)
	}
	d := NewDummy(f, "ipvs0")
	if _, err := d.Ensure(); !errors.Is(err, ErrWrongLinkType) {
		t.Fatalf("Ensure over a bridge: got %v, want ErrWrongLinkType", err)
	}
	// Nor may the address calls quietly use it.
	if err := d.AddAddress(vip4); !errors.Is(err, ErrWrongLinkType) {
		t.Fatalf("AddAddress on a bridge: got %v, want ErrWrongLinkType", err)
	}
}

func TestEnsureWithoutDriver(t *testing.T) {
	f := netlinktest.New()
	f.NoDriver("dummy")
	if _, err := NewDummy(f, "ipvs0").Ensure(); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("got %v, want EOPNOTSUPP", err)
	}
}

func TestAddresses(t *testing.T) {
	f := netlinktest.New()
	d := NewDummy(f, "ipvs0")
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{vip6, vip4, netip.MustParseAddr("::ffff:192.0.2.11")} {
		if err := d.AddAddress(ip); err != nil {
			t.Fatalf("AddAddress(%s): %v", ip, err)
		}
	}
	if err := d.AddAddress(vip4); !errors.Is(err, unix.EEXIST) {
		t.Errorf("adding %s twice: got %v, want EEXIST", vip4, err)
	}
	got, err := d.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.MustParsePrefix("192.0.2.11/32"),
		netip.MustParsePrefix("2001:db8::10/128"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Addresses (-want +got):\n%s", diff)
	}
	if err := d.DelAddress(vip6); err != nil {
		t.Fatal(err)
	}
	if err := d.DelAddress(vip6); !errors.Is(err, unix.EADDRNOTAVAIL) {
		t.Errorf("removing %s twice: got %v, want EADDRNOTAVAIL", vip6, err)
	}
}

func TestAddAddressRejectsUnusableIPs(t *testing.T) {
	d := NewDummy(netlinktest.New(), "ipvs0")
	for _, ip := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.MustParseAddr("fe80::1%eth0")} {
		if err := d.AddAddress(ip); err == nil {
			t.Errorf("AddAddress(%q) succeeded", ip)
		}
	}
}

func TestLocalAddressesSeesOtherLinks(t *testing.T) {
	f := netlinktest.New()
	d := NewDummy(f, "ipvs0")
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := f.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0p"}); err != nil {
		t.Fatal(err)
	}
	eth0, _ := f.LinkByName("eth0")
	a, _ := netlink.ParseAddr("198.51.100.7/24")
	if err := f.AddrAdd(eth0, a); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	local, err := d.LocalAddresses(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	want := Local{
		Dummy:     []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")},
		Elsewhere: map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true, netip.MustParseAddr("198.51.100.7"): true},
	}
	if diff := cmp.Diff(want, local, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("LocalAddresses (-want +got):\n%s", diff)
	}
}

// TestLinkRecreatedBehindOurBack: when somebody deletes ipvs0, the next
// call fails with ENODEV (so the sync fails and is retried), and after
// Ensure recreates it the calls work on the new link.
func TestLinkRecreatedBehindOurBack(t *testing.T) {
	f := netlinktest.New()
	d := NewDummy(f, "ipvs0")
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	l, _ := f.LinkByName("ipvs0")
	if err := f.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("AddAddress on a deleted link: got %v, want ENODEV", err)
	}
	if _, err := d.Addresses(); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("Addresses on a deleted link: got %v, want ENODEV", err)
	}
	if created, err := d.Ensure(); err != nil || !created {
		t.Fatalf("Ensure after deletion: created=%v, %v", created, err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
}

func TestNetlinkErrorsAreWrapped(t *testing.T) {
	f := netlinktest.New()
	d := NewDummy(f, "ipvs0")
	boom := errors.New("boom")
	f.FailNext("LinkAdd", boom)
	if _, err := d.Ensure(); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the LinkAdd error", err)
	}
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	f.FailNext("AddrDump", boom)
	if _, err := d.LocalAddresses(unix.AF_UNSPEC); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the AddrDump error", err)
	}
}

// TestDelete: a dummy goes with its addresses; one already gone is no
// error; a link of another type of that name is never deleted.
func TestDelete(t *testing.T) {
	f := netlinktest.New()
	d := NewDummy(f, "kube-ipvs0")
	if deleted, err := d.Delete(); err != nil || deleted {
		t.Fatalf("Delete with no link: %v, %v; want false, nil", deleted, err)
	}
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	if deleted, err := d.Delete(); err != nil || !deleted {
		t.Fatalf("Delete: %v, %v; want true, nil", deleted, err)
	}
	if want := "1: lo device up\n    127.0.0.1/8\n    ::1/128\n"; f.String() != want {
		t.Errorf("state after Delete:\n%s\nwant\n%s", f.String(), want)
	}
	if err := f.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "kube-ipvs0"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Delete(); !errors.Is(err, ErrWrongLinkType) {
		t.Errorf("Delete of a bridge: got %v, want ErrWrongLinkType", err)
	}
	if _, err := f.LinkByName("kube-ipvs0"); err != nil {
		t.Errorf("the bridge is gone: %v", err)
	}
}

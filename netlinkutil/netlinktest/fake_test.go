package netlinktest_test

import (
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/netlinkutil"
	"github.com/ipvsd/ipvsd/netlinkutil/netlinktest"
)

var (
	_ netlinkutil.Handle          = (*netlinktest.Fake)(nil)
	_ netlinkutil.ConntrackHandle = (*netlinktest.Fake)(nil)
)

func addr(s string) *netlink.Addr {
	a, err := netlink.ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

func dummy(name string) netlink.Link {
	return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}
}

// TestErrnos walks through the calls that the kernel refuses and checks the
// fake refuses them with the same errno, leaving the state unchanged.
func TestErrnos(t *testing.T) {
	f := netlinktest.New()
	if err := f.LinkAdd(dummy("ipvs0")); err != nil {
		t.Fatal(err)
	}
	l, err := f.LinkByName("ipvs0")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AddrAdd(l, addr("192.0.2.1/32")); err != nil {
		t.Fatal(err)
	}
	if err := f.AddrAdd(l, addr("2001:db8::1/128")); err != nil {
		t.Fatal(err)
	}
	before := f.String()
	gone := dummy("gone")
	gone.Attrs().Index = 99
	for _, tc := range []struct {
		name string
		err  error
		want unix.Errno
	}{
		{"duplicate link", f.LinkAdd(dummy("ipvs0")), unix.EEXIST},
		{"duplicate v4", f.AddrAdd(l, addr("192.0.2.1/32")), unix.EEXIST},
		{"duplicate v6, other length", f.AddrAdd(l, addr("2001:db8::1/64")), unix.EEXIST},
		{"missing v4", f.AddrDel(l, addr("192.0.2.2/32")), unix.EADDRNOTAVAIL},
		{"v4 with wrong length", f.AddrDel(l, addr("192.0.2.1/24")), unix.EADDRNOTAVAIL},
		{"v6 with wrong length", f.AddrDel(l, addr("2001:db8::1/64")), unix.EADDRNOTAVAIL},
		{"add on missing link", f.AddrAdd(gone, addr("192.0.2.9/32")), unix.ENODEV},
		{"del on missing link", f.AddrDel(gone, addr("192.0.2.9/32")), unix.ENODEV},
		{"set up missing link", f.LinkSetUp(gone), unix.ENODEV},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := f.LinkByName("gone"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("LinkByName(gone): got %v, want ENODEV", err)
	}
	if diff := cmp.Diff(before, f.String()); diff != "" {
		t.Errorf("refused calls changed the state (-before +after):\n%s", diff)
	}
	f.NoDriver("dummy")
	if err := f.LinkAdd(dummy("other")); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("LinkAdd without the driver: got %v, want EOPNOTSUPP", err)
	}
}

// TestState checks the rendered state after a typical sequence: IPv4 keeps
// one address under two lengths apart, set-up adds a link-local address,
// and AddrList filters by link and family.
func TestState(t *testing.T) {
	f := netlinktest.New()
	for _, name := range []string{"ipvs0", "eth0"} {
		if err := f.LinkAdd(dummy(name)); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := f.LinkByName("ipvs0")
	eth, _ := f.LinkByName("eth0")
	for _, a := range []string{"2001:db8::1/128", "192.0.2.1/32", "192.0.2.1/24"} {
		if err := f.AddrAdd(l, addr(a)); err != nil {
			t.Fatalf("adding %s: %v", a, err)
		}
	}
	if err := f.AddrAdd(eth, addr("198.51.100.7/24")); err != nil {
		t.Fatal(err)
	}
	if err := f.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	if err := f.AddrDel(l, addr("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	want := `1: lo device up
    127.0.0.1/8
    ::1/128
2: ipvs0 dummy up
    192.0.2.1/32
    2001:db8::1/128
    fe80::2/64
3: eth0 dummy down
    198.51.100.7/24
`
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	got, err := f.AddrList(nil, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, a := range got {
		ips = append(ips, a.IPNet.String())
	}
	if diff := cmp.Diff([]string{"127.0.0.1/8", "192.0.2.1/32", "198.51.100.7/24"}, ips); diff != "" {
		t.Errorf("AddrList(nil, AF_INET) (-want +got):\n%s", diff)
	}
	if got, _ := f.AddrList(eth, unix.AF_INET6); len(got) != 0 {
		t.Errorf("eth0 has no IPv6 addresses, got %v", got)
	}
}

func TestFailNext(t *testing.T) {
	f := netlinktest.New()
	boom := errors.New("boom")
	f.FailNext("LinkAdd", boom)
	if err := f.LinkAdd(dummy("ipvs0")); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the injected error", err)
	}
	if err := f.LinkAdd(dummy("ipvs0")); err != nil {
		t.Fatalf("the injected error should fire once: %v", err)
	}
}

func TestConntrackDelete(t *testing.T) {
	f := netlinktest.New()
	f.AddFlow(netlinktest.UDPFlow("10.0.0.9", 40000, "192.0.2.1", 53, "10.1.0.5", 5353))
	f.AddFlow(netlinktest.UDPFlow("10.0.0.9", 40001, "192.0.2.1", 53, "10.1.0.6", 5353))
	f.AddFlow(netlinktest.UDPFlow("fd00::9", 40000, "2001:db8::1", 53, "fd01::5", 5353))
	var filter netlink.ConntrackFilter
	if err := filter.AddIP(netlink.ConntrackReplySrcIP, net.ParseIP("10.1.0.5")); err != nil {
		t.Fatal(err)
	}
	n, err := f.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, &filter)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want 1", n, err)
	}
	if got := len(f.Flows()); got != 2 {
		t.Errorf("%d flows left, want 2", got)
	}
	// The family selects the table's flows, as the kernel's dump does.
	if n, _ := f.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET6, &filter); n != 0 {
		t.Errorf("an IPv6 dump deleted %d IPv4 flows", n)
	}
}

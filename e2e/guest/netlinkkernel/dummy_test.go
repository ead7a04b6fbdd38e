//go:build lab

package netlinkkernel

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/netlinkutil"
)

var (
	vip4 = netip.MustParseAddr("10.96.0.10")
	vip6 = netip.MustParseAddr("fd96::10")
)

// newDummy returns ipvs0 on a fresh handle in the VM's namespace and
// deletes the link afterwards.
func newDummy(t *testing.T, name string) (*netlinkutil.Dummy, *netlinkutil.RouteHandle) {
	t.Helper()
	h, err := netlinkutil.OpenHandle("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := h.LinkByName(name); err == nil {
			if err := h.LinkDel(l); err != nil {
				t.Errorf("deleting %s: %v", name, err)
			}
		}
		h.Close()
	})
	return netlinkutil.NewDummy(h, name), h
}

func TestEnsureCreatesDummyOnce(t *testing.T) {
	d, h := newDummy(t, "ipvs0")
	if created, err := d.Ensure(); err != nil || !created {
		t.Fatalf("Ensure: created=%v, %v", created, err)
	}
	l, err := h.LinkByName("ipvs0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Type() != "dummy" || l.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("ipvs0 is a %s with flags %v, want an up dummy", l.Type(), l.Attrs().Flags)
	}
	if created, err := d.Ensure(); err != nil || created {
		t.Fatalf("Ensure again: created=%v, %v", created, err)
	}
	l2, _ := h.LinkByName("ipvs0")
	if l2.Attrs().Index != l.Attrs().Index {
		t.Errorf("the second Ensure replaced the link (index %d -> %d)", l.Attrs().Index, l2.Attrs().Index)
	}
	// Somebody sets it down: Ensure sets it up again.
	if err := h.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if l, _ := h.LinkByName("ipvs0"); l.Attrs().Flags&net.FlagUp == 0 {
		t.Error("Ensure left ipvs0 down")
	}
}

func TestEnsureRefusesVeth(t *testing.T) {
	d, h := newDummy(t, "ipvs0")
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ipvs0"}, PeerName: "ipvs0p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ensure(); !errors.Is(err, netlinkutil.ErrWrongLinkType) {
		t.Fatalf("Ensure over a veth: got %v, want ErrWrongLinkType", err)
	}
}

func TestVIPs(t *testing.T) {
	d, h := newDummy(t, "ipvs0")
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{vip4, vip6} {
		if err := d.AddAddress(ip); err != nil {
			t.Fatalf("AddAddress(%s): %v", ip, err)
		}
		if err := d.AddAddress(ip); !errors.Is(err, unix.EEXIST) {
			t.Errorf("AddAddress(%s) again: got %v, want EEXIST", ip, err)
		}
		// The VIP is local at once: IPv6 skipped DAD.
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			t.Fatalf("binding to %s: %v", ip, err)
		}
		pc.Close()
	}
	got, err := d.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.96.0.10/32"), netip.MustParsePrefix("fd96::10/128")}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Addresses = %v, want %v", got, want)
	}
	// The kernel gave the up dummy a link-local address; Addresses hides it.
	l, _ := h.LinkByName("ipvs0")
	raw, err := h.AddrList(l, unix.AF_INET6)
	if err != nil {
		t.Fatal(err)
	}
	hasLL := false
	for _, a := range raw {
		hasLL = hasLL || a.IP.IsLinkLocalUnicast()
	}
	if !hasLL {
		t.Errorf("no link-local address on ipvs0 (%v): the test of hiding it proves nothing", raw)
	}

	for _, ip := range []netip.Addr{vip4, vip6} {
		if err := d.DelAddress(ip); err != nil {
			t.Fatal(err)
		}
		if err := d.DelAddress(ip); !errors.Is(err, unix.EADDRNOTAVAIL) {
			t.Errorf("DelAddress(%s) again: got %v, want EADDRNOTAVAIL", ip, err)
		}
	}
	if got, err := d.Addresses(); err != nil || len(got) != 0 {
		t.Errorf("Addresses after removal = %v, %v", got, err)
	}
}

// A VIP that is already local elsewhere (on lo, as some setups do for DSR,
// or on another dummy) shows in LocalAddresses' Elsewhere.
func TestVIPOnAnotherInterface(t *testing.T) {
	d, h := newDummy(t, "ipvs0")
	other, _ := newDummy(t, "other0")
	for _, x := range []*netlinkutil.Dummy{d, other} {
		if _, err := x.Ensure(); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	onLo, _ := netlink.ParseAddr("fd96::53/128")
	onLo.Flags = unix.IFA_F_NODAD
	if err := h.AddrAdd(lo, onLo); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.AddrDel(lo, onLo) })
	local, err := d.LocalAddresses(unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.96.0.10", "fd96::53", "127.0.0.1", "::1"} {
		if !local.Elsewhere[netip.MustParseAddr(ip)] {
			t.Errorf("%s not reported as local elsewhere: %v", ip, local.Elsewhere)
		}
	}
	if len(local.Dummy) != 0 {
		t.Errorf("ipvs0 has addresses %v, want none", local.Dummy)
	}
	v4, err := d.LocalAddresses(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	if v4.Elsewhere[netip.MustParseAddr("fd96::53")] {
		t.Error("an IPv4 snapshot reported an IPv6 address")
	}
}

// TestVIPBatches binds a thousand VIPs to a real dummy in batches, one of
// them already there (EEXIST for it alone), checks they are local at
// once, and removes them. For the record it logs the wall time against
// the same addresses bound one request at a time on a second dummy in the
// same VM (no assertion: the VM's timing is emulated).
func TestVIPBatches(t *testing.T) {
	d, h := newDummy(t, "ipvs0")
	single, _ := newDummy(t, "ipvs1")
	for _, x := range []*netlinkutil.Dummy{d, single} {
		if _, err := x.Ensure(); err != nil {
			t.Fatal(err)
		}
	}
	var ips []netip.Addr
	for i := range 900 {
		ips = append(ips, netip.AddrFrom4([4]byte{10, 96, byte(i / 250), byte(i%250 + 1)}))
	}
	for i := range 100 {
		ips = append(ips, netip.AddrFrom16([16]byte{0xfd, 0x96, 14: byte(i >> 8), 15: byte(i + 1)}))
	}
	const present = 450
	if err := d.AddAddress(ips[present]); err != nil {
		t.Fatal(err)
	}
	sent := h.AddrSendmsgs()
	start := time.Now()
	errs := d.AddAddresses(ips)
	batched := time.Since(start)
	for i, err := range errs {
		if (i == present) != errors.Is(err, unix.EEXIST) || (i != present && err != nil) {
			t.Errorf("adding %s: %v", ips[i], err)
		}
	}
	for _, ip := range []netip.Addr{ips[0], ips[len(ips)-1]} {
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			t.Fatalf("binding to %s: %v", ip, err)
		}
		pc.Close()
	}
	if got, err := d.Addresses(); err != nil || len(got) != len(ips) {
		t.Fatalf("listed %d addresses (%v), want %d", len(got), err, len(ips))
	}
	start = time.Now()
	for _, ip := range ips {
		if err := single.AddAddress(ip); err != nil {
			t.Fatal(err)
		}
	}
	oneByOne := time.Since(start)
	t.Logf("%d VIPs: batched %v in %d sendmsg calls, one at a time %v (%.1fx)",
		len(ips), batched.Round(time.Millisecond), h.AddrSendmsgs()-sent, oneByOne.Round(time.Millisecond),
		oneByOne.Seconds()/batched.Seconds())
	for i, err := range d.DelAddresses(ips) {
		if err != nil {
			t.Errorf("removing %s: %v", ips[i], err)
		}
	}
	if got, err := d.Addresses(); err != nil || len(got) != 0 {
		t.Errorf("after removal: %v, %v", got, err)
	}
}

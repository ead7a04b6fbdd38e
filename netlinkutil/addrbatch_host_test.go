package netlinkutil

// Batched address writes against this host's real kernel (a bridge stands
// in for the dummy, as in kernel_host_test.go), and the same sequence
// against the fake, which must answer alike.

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/netlinkutil/netlinktest"
)

// TestAddressBatchConformance: within one batch every address gets its
// own outcome, a duplicate inside the batch included, in the kernel and in
// the fake alike.
func TestAddressBatchConformance(t *testing.T) {
	t.Run("kernel", func(t *testing.T) {
		h := openHandle(t, "")
		deleteLink(t, h, "ipvsb0")
		d := NewDummy(h, "ipvsb0")
		d.newLink = bridgeLink
		batchSequence(t, d)
	})
	t.Run("fake", func(t *testing.T) {
		batchSequence(t, NewDummy(netlinktest.New(), "ipvsb0"))
	})
}

func batchSequence(t *testing.T, d *Dummy) {
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := d.AddAddress(vip4); err != nil {
		t.Fatal(err)
	}
	a1, a2 := netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")
	errs := d.AddAddresses([]netip.Addr{a1, vip4, a2, a1, {}, vip6})
	want := []error{nil, unix.EEXIST, nil, unix.EEXIST, errNotErrno, nil}
	checkErrs(t, "adding", errs, want)
	got, err := d.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	if w := []netip.Prefix{HostPrefix(vip4), HostPrefix(a1), HostPrefix(a2), HostPrefix(vip6)}; !equalPrefixes(got, w) {
		t.Errorf("Addresses = %v, want %v", got, w)
	}
	missing := netip.MustParseAddr("192.0.2.13")
	errs = d.DelAddresses([]netip.Addr{a1, missing, vip6, a1})
	checkErrs(t, "removing", errs, []error{nil, unix.EADDRNOTAVAIL, nil, unix.EADDRNOTAVAIL})
	if errs := d.AddAddresses(nil); len(errs) != 0 {
		t.Errorf("adding nothing: %v", errs)
	}
}

// errNotErrno stands for an error the kernel never saw (an invalid
// address): any error but an errno.
var errNotErrno = errors.New("an error, not an errno")

func checkErrs(t *testing.T, what string, got, want []error) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d errors for %d addresses", what, len(got), len(want))
	}
	for i, w := range want {
		var errno unix.Errno
		switch {
		case w == nil && got[i] != nil, w != nil && got[i] == nil:
			t.Errorf("%s, address %d: got %v, want %v", what, i, got[i], w)
		case w == errNotErrno && errors.As(got[i], &errno):
			t.Errorf("%s, address %d: got %v, want no errno", what, i, got[i])
		case w != nil && w != errNotErrno && !errors.Is(got[i], w):
			t.Errorf("%s, address %d: got %v, want %v", what, i, got[i], w)
		}
	}
}

// TestKernelAddressBatches binds a few thousand addresses in batches with
// one already there, lists them back, removes them, and checks a batched
// address is the same to the kernel as one AddrAdd put there.
func TestKernelAddressBatches(t *testing.T) {
	h := openHandle(t, "")
	deleteLink(t, h, "ipvsb1")
	d := NewDummy(h, "ipvsb1")
	d.newLink = bridgeLink
	if _, err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	const n4, n6 = 2500, 500
	var ips []netip.Addr
	for i := range n4 {
		ips = append(ips, netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}))
	}
	for i := range n6 {
		ips = append(ips, netip.AddrFrom16([16]byte{0xfd, 0x96, 14: byte(i >> 8), 15: byte(i)}))
	}
	present := ips[1234]
	if err := d.AddAddress(present); err != nil {
		t.Fatal(err)
	}
	sent := h.AddrSendmsgs()
	errs := d.AddAddresses(ips)
	batches := h.AddrSendmsgs() - sent
	for i, err := range errs {
		if (i == 1234) != errors.Is(err, unix.EEXIST) || (i != 1234 && err != nil) {
			t.Errorf("adding %s: %v", ips[i], err)
		}
	}
	if wantMax := uint64((len(ips) + 1) / 2); batches < 2 || batches > wantMax {
		t.Errorf("%d addresses took %d sendmsg calls", len(ips), batches)
	}
	t.Logf("%d addresses in %d sendmsg calls (%d requests each at most)", len(ips), batches, h.addrs.maxBatch)
	listed, err := d.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(ips) {
		t.Fatalf("listed %d addresses, want %d", len(listed), len(ips))
	}
	for _, p := range listed {
		if p != HostPrefix(p.Addr()) {
			t.Errorf("listed %s, want a host prefix", p)
		}
	}
	sameAsAddrAdd(t, h, d, ips[0], ips[n4])
	errs = d.DelAddresses(ips)
	for i, err := range errs {
		if err != nil {
			t.Errorf("removing %s: %v", ips[i], err)
		}
	}
	if listed, err := d.Addresses(); err != nil || len(listed) != 0 {
		t.Errorf("after removal: %d addresses, %v", len(listed), err)
	}
}

// sameAsAddrAdd re-adds v4 and v6 with the library's AddrAdd on a second
// link and compares what the kernel dumps for each pair.
func sameAsAddrAdd(t *testing.T, h *RouteHandle, d *Dummy, v4, v6 netip.Addr) {
	deleteLink(t, h, "ipvsb2")
	if err := h.LinkAdd(bridgeLink("ipvsb2")); err != nil {
		t.Fatal(err)
	}
	other, err := h.LinkByName("ipvsb2")
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{v4, v6} {
		a, _ := hostAddr(ip)
		if err := h.AddrAdd(other, a); err != nil {
			t.Fatal(err)
		}
	}
	all, err := h.AddrList(nil, unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ flags, scope, ones, bits int }
	byLink := map[int]map[netip.Addr]seen{}
	for _, a := range all {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, bits := a.Mask.Size()
		if byLink[a.LinkIndex] == nil {
			byLink[a.LinkIndex] = map[netip.Addr]seen{}
		}
		byLink[a.LinkIndex][ip.Unmap()] = seen{a.Flags, a.Scope, ones, bits}
	}
	for _, ip := range []netip.Addr{v4, v6} {
		batched, ok := byLink[d.link.Attrs().Index][ip]
		single := byLink[other.Attrs().Index][ip]
		if !ok || batched != single {
			t.Errorf("%s: batched %+v (found %v), AddrAdd %+v", ip, batched, ok, single)
		}
	}
}

package netlinkutil

// AddrDump against this host's real kernel, compared with what the
// library's AddrList makes of the same dump.

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

type linkPrefix struct {
	index int
	p     netip.Prefix
}

// TestAddrDumpMatchesAddrList: every address of every link, a
// point-to-point one with a peer and 400 on one link (a dump of several
// replies) included, comes out of AddrDump as the library lists it, for
// each family and both.
func TestAddrDumpMatchesAddrList(t *testing.T) {
	h := openHandle(t, "")
	deleteLink(t, h, "ipvsd3")
	if err := h.LinkAdd(bridgeLink("ipvsd3")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteLink(t, h, "ipvsd3") })
	l, err := h.LinkByName("ipvsd3")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []*netlink.Addr
	for i := range 400 {
		a, _ := hostAddr(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
		addrs = append(addrs, a)
	}
	a6, _ := hostAddr(netip.MustParseAddr("2001:db8::3"))
	addrs = append(addrs, a6)
	for i, err := range h.AddrAddBatch(l, addrs) {
		if err != nil {
			t.Fatalf("adding %s: %v", addrs[i].IP, err)
		}
	}
	peer := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 0, 2, 1).To4(), Mask: net.CIDRMask(32, 32)},
		Peer: &net.IPNet{IP: net.IPv4(192, 0, 2, 2).To4(), Mask: net.CIDRMask(32, 32)}}
	if err := h.AddrAdd(l, peer); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{unix.AF_UNSPEC, unix.AF_INET, unix.AF_INET6} {
		list, err := h.AddrList(nil, fam)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []linkPrefix
		for _, a := range list {
			ip, _ := netip.AddrFromSlice(a.IP)
			ones, _ := a.Mask.Size()
			want = append(want, linkPrefix{a.LinkIndex, netip.PrefixFrom(ip.Unmap(), ones)})
		}
		if err := h.AddrDump(fam, func(i int, p netip.Prefix) { got = append(got, linkPrefix{i, p}) }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("family %d: AddrDump lists %d addresses, AddrList %d; first differences: %v", fam, len(got), len(want), firstDiff(got, want))
		}
		if fam != unix.AF_INET6 && !slices.Contains(got, linkPrefix{l.Attrs().Index, netip.MustParsePrefix("192.0.2.1/32")}) {
			t.Errorf("family %d: the point-to-point address is not listed by its local address", fam)
		}
	}
	// The figure for the record (rerun with -v): a full resync lists every
	// VIP, 10,000 at 10,000 Services.
	var dumpErr error
	allocs := testing.AllocsPerRun(10, func() { dumpErr = h.AddrDump(unix.AF_UNSPEC, func(int, netip.Prefix) {}) })
	if dumpErr != nil {
		t.Fatal(dumpErr)
	}
	t.Logf("AddrDump of %d addresses: %.0f allocations", len(addrs)+1, allocs)
}

func firstDiff(a, b []linkPrefix) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i].p.String() + " vs " + b[i].p.String()
		}
	}
	return "one is a prefix of the other"
}

package netlinkutil

import (
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/netlinkutil/netlinktest"
)

func TestFlowFilterMatch(t *testing.T) {
	vip, be := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.1.0.5")
	flow := netlinktest.UDPFlow("10.0.0.9", 40000, "192.0.2.1", 53, "10.1.0.5", 5353)
	for _, tc := range []struct {
		name string
		f    FlowFilter
		want bool
	}{
		{"exact", FlowFilter{unix.IPPROTO_UDP, vip, 53, be, 5353}, true},
		{"any backend port", FlowFilter{unix.IPPROTO_UDP, vip, 53, be, 0}, true},
		{"any ports (fwmark)", FlowFilter{unix.IPPROTO_UDP, vip, 0, be, 0}, true},
		{"mapped VIP", FlowFilter{unix.IPPROTO_UDP, netip.MustParseAddr("::ffff:192.0.2.1"), 53, be, 5353}, true},
		{"other protocol", FlowFilter{unix.IPPROTO_TCP, vip, 53, be, 5353}, false},
		{"other VIP", FlowFilter{unix.IPPROTO_UDP, netip.MustParseAddr("192.0.2.2"), 53, be, 5353}, false},
		{"other service port", FlowFilter{unix.IPPROTO_UDP, vip, 54, be, 5353}, false},
		{"other backend", FlowFilter{unix.IPPROTO_UDP, vip, 53, netip.MustParseAddr("10.1.0.6"), 5353}, false},
		{"other backend port", FlowFilter{unix.IPPROTO_UDP, vip, 53, be, 5354}, false},
		// The client's own address is the reply destination, never a match.
		{"client as backend", FlowFilter{unix.IPPROTO_UDP, vip, 53, netip.MustParseAddr("10.0.0.9"), 0}, false},
	} {
		if got := tc.f.MatchConntrackFlow(&flow); got != tc.want {
			t.Errorf("%s: %s matched %v, want %v", tc.name, tc.f, got, tc.want)
		}
	}
}

func TestDeleteUDPConntrack(t *testing.T) {
	f := netlinktest.New()
	gone := netlinktest.UDPFlow("10.0.0.9", 40000, "192.0.2.1", 53, "10.1.0.5", 5353)
	gone2 := netlinktest.UDPFlow("10.0.0.8", 40000, "192.0.2.1", 53, "10.1.0.5", 5353)
	kept := []netlink.ConntrackFlow{
		netlinktest.UDPFlow("10.0.0.9", 40001, "192.0.2.1", 53, "10.1.0.6", 5353),
		netlinktest.UDPFlow("10.0.0.9", 40002, "192.0.2.1", 54, "10.1.0.5", 5353),
		netlinktest.UDPFlow("fd00::9", 40000, "2001:db8::1", 53, "fd01::5", 5353),
	}
	for _, fl := range append([]netlink.ConntrackFlow{gone, gone2}, kept...) {
		f.AddFlow(fl)
	}
	n, err := DeleteUDPConntrack(f, netip.MustParseAddr("192.0.2.1"), 53, netip.MustParseAddr("10.1.0.5"), 5353)
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2", n, err)
	}
	if got := f.Flows(); len(got) != len(kept) {
		t.Errorf("left %d flows, want %d:\n%s", len(got), len(kept), f)
	}
	n, err = DeleteUDPConntrack(f, netip.MustParseAddr("2001:db8::1"), 53, netip.MustParseAddr("fd01::5"), 5353)
	if err != nil || n != 1 {
		t.Fatalf("IPv6: deleted %d, %v; want 1", n, err)
	}
}

func TestDeleteConntrackRejectsMixedFamilies(t *testing.T) {
	f := netlinktest.New()
	if _, err := DeleteUDPConntrack(f, netip.MustParseAddr("192.0.2.1"), 53, netip.MustParseAddr("fd01::5"), 53); err == nil {
		t.Error("a v4 VIP with a v6 backend was accepted")
	}
	if _, err := DeleteUDPConntrack(f, netip.Addr{}, 53, netip.MustParseAddr("10.1.0.5"), 53); err == nil {
		t.Error("an invalid VIP was accepted")
	}
}

package ipvs

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink/nl"
)

// TestSyncDaemonAttr: the nest a start sends parses back (as the kernel's
// listing is parsed) to the same daemon, with the port a native u16 and
// the group in network order, and the optional attributes only when set.
func TestSyncDaemonAttr(t *testing.T) {
	for _, d := range []SyncDaemon{
		{State: SyncMaster, Interface: "eth1", SyncID: 7},
		{State: SyncBackup, Interface: "sync0", SyncID: 255, MaxLen: 1400, Group: netip.MustParseAddr("239.1.2.3"), Port: 9000, TTL: 4},
		{State: SyncMaster, Interface: "sync0", Group: netip.MustParseAddr("ff02::1:81")},
	} {
		a := syncDaemonAttr(d)
		got, err := nl.ParseRouteAttr(a.Serialize()[4:])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, parseSyncDaemon(got), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("round trip (-sent +parsed):\n%s", diff)
		}
		types := map[uint16][]byte{}
		for _, x := range got {
			types[x.Attr.Type] = x.Value
		}
		if _, ok := types[daemonAttrMcastPort]; ok != (d.Port != 0) {
			t.Errorf("%v: port attribute present %v", d, ok)
		}
		if v, ok := types[daemonAttrMcastPort]; ok && binary.NativeEndian.Uint16(v) != d.Port {
			t.Errorf("port sent as %x, want native %d", v, d.Port)
		}
		if v, ok := types[daemonAttrMcastGroup]; ok && netip.AddrFrom4([4]byte(v)) != d.Group {
			t.Errorf("group sent as %x, want %s in network order", v, d.Group)
		}
	}
}

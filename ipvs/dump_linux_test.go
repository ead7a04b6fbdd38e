package ipvs

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// attrs serialises a nest the way the kernel sends one: the value
// parseService and parseDestination receive.
func attrs(t *testing.T, build func(*nl.RtAttr)) []byte {
	t.Helper()
	top := nl.NewRtAttr(ipvsCmdAttrService, nil)
	build(top)
	return top.Serialize()[attrHeaderLen:]
}

func stats64(a *nl.RtAttr, typ int, base uint64) {
	n := a.AddRtAttr(typ, nil)
	for i := 1; i <= 10; i++ {
		n.AddRtAttr(i, nl.Uint64Attr(base+uint64(i)))
	}
	n.AddRtAttr(11, nil) // IPVS_STATS_ATTR_PAD
}

func stats32(a *nl.RtAttr, typ int) {
	n := a.AddRtAttr(typ, nil)
	for i := 1; i <= 10; i++ {
		if i == 4 || i == 5 { // byte counts are u64 even here
			n.AddRtAttr(i, nl.Uint64Attr(uint64(i)))
		} else {
			n.AddRtAttr(i, nl.Uint32Attr(uint32(i)))
		}
	}
}

func TestParseService(t *testing.T) {
	got, err := parseService(attrs(t, func(a *nl.RtAttr) {
		a.AddRtAttr(svcAttrAF, nl.Uint16Attr(unix.AF_INET))
		a.AddRtAttr(svcAttrProtocol, nl.Uint16Attr(6))
		a.AddRtAttr(svcAttrAddr, []byte{192, 0, 2, 1, 15: 0})
		a.AddRtAttr(svcAttrPort, nl.BEUint16Attr(443))
		a.AddRtAttr(svcAttrSchedName, nl.ZeroTerminated("sh"))
		a.AddRtAttr(svcAttrFlags, append(nl.Uint32Attr(0x1b), nl.Uint32Attr(0xffffffff)...)) // hashed too
		a.AddRtAttr(svcAttrTimeout, nl.Uint32Attr(300))
		a.AddRtAttr(svcAttrNetmask, []byte{255, 255, 255, 0})
		stats32(a, svcAttrStats)
		stats64(a, svcAttrStats64, 1<<40)
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := ServiceWithDests{
		Service: Service{
			Key:       Key{Family: IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: TCP, Port: 443},
			Scheduler: "sh", Flags: FlagPersistent | FlagSHFallback | FlagSHPort, Timeout: 300, Netmask: 24,
		},
		Stats: Stats{1<<40 + 1, 1<<40 + 2, 1<<40 + 3, 1<<40 + 4, 1<<40 + 5, 1<<40 + 6, 1<<40 + 7, 1<<40 + 8, 1<<40 + 9, 1<<40 + 10},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("parseService (-want +got):\n%s", diff)
	}
}

func TestParseFWMarkServiceWith32BitStats(t *testing.T) {
	got, err := parseService(attrs(t, func(a *nl.RtAttr) {
		a.AddRtAttr(svcAttrAF, nl.Uint16Attr(unix.AF_INET6))
		a.AddRtAttr(svcAttrFWMark, nl.Uint32Attr(0xfffffffe))
		a.AddRtAttr(svcAttrSchedName, nl.ZeroTerminated("mh"))
		a.AddRtAttr(svcAttrFlags, append(nl.Uint32Attr(0x12), nl.Uint32Attr(0xffffffff)...))
		a.AddRtAttr(svcAttrNetmask, nl.Uint32Attr(64))
		a.AddRtAttr(svcAttrPEName, nl.ZeroTerminated("sip"))
		stats32(a, svcAttrStats)
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := ServiceWithDests{Service: Service{Key: Key{Family: IPv6, FWMark: 0xfffffffe}, Scheduler: "mh", Flags: FlagMHPort,
		Netmask: 64, PEName: "sip"}, Stats: Stats{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("parseService (-want +got):\n%s", diff)
	}
}

func TestParseDestination(t *testing.T) {
	nest := attrs(t, func(a *nl.RtAttr) {
		a.AddRtAttr(destAttrAddr, []byte{10, 1, 2, 3, 15: 0})
		a.AddRtAttr(destAttrAddrFamily, nl.Uint16Attr(unix.AF_INET)) // a tunnel of the other family
		a.AddRtAttr(destAttrPort, nl.BEUint16Attr(8080))
		a.AddRtAttr(destAttrFwdMethod, nl.Uint32Attr(2|0x100)) // flags beyond the method are masked
		a.AddRtAttr(destAttrWeight, nl.Uint32Attr(70000))
		a.AddRtAttr(destAttrUThresh, nl.Uint32Attr(100))
		a.AddRtAttr(destAttrLThresh, nl.Uint32Attr(10))
		a.AddRtAttr(destAttrActiveConns, nl.Uint32Attr(5))
		a.AddRtAttr(destAttrInactConns, nl.Uint32Attr(6))
		a.AddRtAttr(destAttrPersistConns, nl.Uint32Attr(7))
		stats32(a, destAttrStats)
		stats64(a, destAttrStats64, 1<<33)
	})
	got, err := parseDestination(IPv6, nest, true)
	if err != nil {
		t.Fatal(err)
	}
	want := DestinationState{
		Destination: Destination{
			DestKey: DestKey{Address: netip.MustParseAddr("10.1.2.3"), Port: 8080}, Weight: 70000, Forwarding: Tunnel,
			UpperThreshold: 100, LowerThreshold: 10,
		},
		ActiveConns: 5, InactiveConns: 6, PersistConns: 7,
		Stats: &Stats{1<<33 + 1, 1<<33 + 2, 1<<33 + 3, 1<<33 + 4, 1<<33 + 5, 1<<33 + 6, 1<<33 + 7, 1<<33 + 8, 1<<33 + 9, 1<<33 + 10},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("parseDestination (-want +got):\n%s", diff)
	}
	// A sync's dump: the same without the stats.
	got, err = parseDestination(IPv6, nest, false)
	if err != nil {
		t.Fatal(err)
	}
	want.Stats = nil
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("parseDestination without stats (-want +got):\n%s", diff)
	}
}

func TestServiceKeyAttrRoundTrip(t *testing.T) {
	for _, k := range []Key{
		{Family: IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: SCTP, Port: 3868},
		{Family: IPv6, Address: netip.MustParseAddr("2001:db8::1"), Protocol: UDP, Port: 53},
		{Family: IPv6, FWMark: 7},
	} {
		s, err := parseService(serviceKeyAttr(k).Serialize()[attrHeaderLen:])
		if err != nil {
			t.Fatal(err)
		}
		if s.Key != k {
			t.Errorf("key %v came back as %v", k, s.Key)
		}
	}
}

// TestAttrString: a name is read up to its NUL, a known one without an
// allocation of its own, an unknown one as it is.
func TestAttrString(t *testing.T) {
	for _, tc := range []struct {
		v    []byte
		want string
	}{
		{[]byte("wrr\x00"), "wrr"},
		{[]byte("mh\x00\x00\x00"), "mh"},
		{[]byte("sip"), "sip"},
		{[]byte("newsched\x00"), "newsched"},
		{[]byte("\x00"), ""},
		{nil, ""},
	} {
		if got := attrString(tc.v); got != tc.want {
			t.Errorf("attrString(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
	v := []byte("wlc\x00")
	if n := testing.AllocsPerRun(100, func() { _ = attrString(v) }); n != 0 {
		t.Errorf("attrString of a known scheduler allocated %v times", n)
	}
}

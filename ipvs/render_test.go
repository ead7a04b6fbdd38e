package ipvs

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/internal/golden"
)

var labInfo = Info{Version: 0x010201, ConnTabSize: 4096}

// svc and dst build table entries tersely for the tests below.
func svc(proto Protocol, ap, sched string, mod ...func(*Service)) ServiceWithDests {
	a := netip.MustParseAddrPort(ap)
	s := Service{Key: Key{Family: FamilyOf(a.Addr()), Address: a.Addr(), Protocol: proto, Port: a.Port()}, Scheduler: sched}
	for _, m := range mod {
		m(&s)
	}
	return ServiceWithDests{Service: s}
}

func fwm(f Family, mark uint32, sched string, mod ...func(*Service)) ServiceWithDests {
	s := Service{Key: Key{Family: f, FWMark: mark}, Scheduler: sched}
	for _, m := range mod {
		m(&s)
	}
	return ServiceWithDests{Service: s}
}

func dst(ap string, fwd Forwarding, weight int, mod ...func(*DestinationState)) DestinationState {
	a := netip.MustParseAddrPort(ap)
	d := DestinationState{Destination: Destination{DestKey: DestKey{Address: a.Addr(), Port: a.Port()}, Forwarding: fwd, Weight: weight}}
	for _, m := range mod {
		m(&d)
	}
	return d
}

func flags(f Flags) func(*Service) { return func(s *Service) { s.Flags |= f } }
func persist(t uint32, mask uint8) func(*Service) {
	return func(s *Service) { s.Timeout, s.Netmask = t, mask }
}
func pe(n string) func(*Service) { return func(s *Service) { s.PEName = n } }

func with(s ServiceWithDests, ds ...DestinationState) ServiceWithDests {
	s.Destinations = ds
	return s
}

// capturedTable is the table the lab's ipvsadm listed into
// testdata/*.captured, in the kernel's order (as --nosort printed it).
func capturedTable() []ServiceWithDests {
	return []ServiceWithDests{
		with(svc(UDP, "198.51.100.7:53", "mh", flags(FlagMHPort|FlagOnePacket)), dst("10.0.1.4:53", Tunnel, 0)),
		svc(UDP, "198.51.100.8:53", "rr", flags(FlagOnePacket), persist(60, 0)),
		svc(TCP, "200.1.1.1:22", "wlc", persist(300, 24)),
		svc(TCP, "10.0.0.2:22", "sh", flags(FlagSched3)),
		svc(TCP, "10.0.0.3:22", "rr", flags(FlagSHFallback|FlagSHPort)),
		svc(TCP, "10.0.0.4:22", "mh", flags(FlagMHFallback|FlagMHPort)),
		svc(TCP, "10.0.0.6:80", "none"),
		with(svc(TCP, "10.0.0.1:80", "rr"),
			dst("10.0.1.1:8080", Masquerade, 3, func(d *DestinationState) { d.UpperThreshold, d.LowerThreshold = 100, 50 }),
			dst("10.0.1.2:8080", Masquerade, 1)),
		svc(TCP, "10.0.0.8:80", "sed", persist(10, 0), pe("sip")),
		svc(TCP, "10.0.0.9:80", "fo", persist(360, 32)),
		with(svc(TCP, "192.0.2.1:443", "sh", flags(FlagSHFallback|FlagSHPort)), dst("10.0.1.3:443", DirectRoute, 1)),
		with(svc(SCTP, "10.0.0.5:3868", "rr"), dst("10.0.1.5:3868", Masquerade, 1)),
		svc(UDP, "[2001:db8::1]:53", "sh", flags(FlagSHPort), persist(30, 96)),
		with(svc(TCP, "255.255.255.254:65535", "dh"), dst("255.255.255.253:65535", Masquerade, 1)),
		with(svc(TCP, "[2001:db8::1]:80", "wrr"),
			dst("[2001:db8:ffff:ffff:ffff:ffff:ffff:fffe]:65535", Masquerade, 2),
			dst("[2001:db8::10]:8080", Masquerade, 2)),
		with(fwm(IPv4, 42, "rr"), dst("10.0.1.9:0", DirectRoute, 1)),
		fwm(IPv6, 7, "lc", persist(120, 64)),
	}
}

// quirksTable is the table of testdata/ipvsadm-Ln-quirks.captured: marks
// and addresses far apart (ipvsadm's wrapping sort), flag-3 under rr and
// mh, weights above 65535, a tunnel real server of the other family.
func quirksTable() []ServiceWithDests {
	// The kernel's order was not captured; with ipvsadm's non-transitive
	// sort the result depends on it, and this order gives ipvsadm's.
	return []ServiceWithDests{
		svc(TCP, "10.0.0.2:80", "rr", flags(FlagSched3)),
		svc(TCP, "10.0.0.3:80", "mh", flags(FlagSched3|FlagMHPort)),
		with(svc(TCP, "10.0.0.9:80", "rr"),
			dst("127.0.0.1:80", DirectRoute, 1),
			dst("10.1.1.3:80", DirectRoute, 65536),
			dst("10.1.1.2:80", DirectRoute, 2147483647),
			dst("10.1.1.1:80", DirectRoute, 65535)),
		svc(TCP, "[2001:db8::5]:80", "rr", persist(10, 128)),
		with(svc(TCP, "[2001:db8::5]:81", "rr"),
			dst("10.1.1.9:81", Tunnel, 1),
			dst("[::1]:80", Masquerade, 1)),
		fwm(IPv4, 1, "rr", persist(10, 0)),
		fwm(IPv4, 2147483647, "rr"),
		fwm(IPv4, 2147483648, "rr"),
		fwm(IPv4, 4294967295, "rr"),
	}
}

// TestRenderMatchesCapturedIpvsadm renders tables built by hand to match
// what the lab kernel held when its ipvsadm printed testdata/*.captured.
// The guest test TestRenderMatchesIpvsadm checks the same against a live
// ipvsadm; this keeps the format pinned on the host.
func TestRenderMatchesCapturedIpvsadm(t *testing.T) {
	for _, tc := range []struct {
		file  string
		table []ServiceWithDests
		opts  RenderOptions
		// drop removes lines of the capture the model cannot express.
		drop string
	}{
		{file: "ipvsadm-Ln", table: capturedTable()},
		{file: "ipvsadm-Ln-nosort", table: capturedTable(), opts: RenderOptions{Order: OrderGiven}},
		{file: "ipvsadm-Ln-stats", table: capturedTable(), opts: RenderOptions{Format: FormatStats}},
		{file: "ipvsadm-Ln-stats-exact", table: capturedTable(), opts: RenderOptions{Format: FormatStats, Exact: true}},
		{file: "ipvsadm-Ln-rate", table: capturedTable(), opts: RenderOptions{Format: FormatRate}},
		{file: "ipvsadm-Ln-thresholds", table: capturedTable(), opts: RenderOptions{Format: FormatThresholds}},
		{file: "ipvsadm-Ln-persistent-conn", table: capturedTable(), opts: RenderOptions{Format: FormatPersistentConn}},
		// Netmask is a prefix length: the capture's 255.0.255.0 is not one.
		{file: "ipvsadm-Ln-quirks", table: quirksTable(), drop: "TCP  10.0.0.5:80 rr persistent 10 mask 255.0.255.0\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.file+".captured"))
			if err != nil {
				t.Fatal(err)
			}
			tc.opts.Info = labInfo
			got := RenderString(tc.table, tc.opts)
			if diff := cmp.Diff(strings.Replace(string(want), tc.drop, "", 1), got); diff != "" {
				t.Errorf("render differs from ipvsadm (-ipvsadm +ours):\n%s", diff)
			}
		})
	}
}

// TestRenderGolden pins formats the captures cannot: large and scaled
// counters, connection counts, and the plain key order.
func TestRenderGolden(t *testing.T) {
	big := Stats{Conns: 99_999_999, InPkts: 100_000_000, OutPkts: 999_999_999_999, InBytes: 12_345_678_901_234,
		OutBytes: 1 << 62, CPS: 7, InPPS: 123_456_789, OutPPS: 3, InBPS: 1_000_000_000, OutBPS: 42}
	counted := svc(TCP, "192.0.2.10:80", "wrr")
	counted.Stats = big
	table := []ServiceWithDests{
		with(counted,
			dst("198.51.100.2:80", Masquerade, 5, func(d *DestinationState) {
				d.ActiveConns, d.InactiveConns, d.PersistConns, d.Stats = 12, 3456, 7, &big
			}),
			dst("198.51.100.1:80", Masquerade, 0, func(d *DestinationState) { d.ActiveConns = 4 })),
		with(svc(UDP, "[::1:2]:53", "rr"), dst("[::ffff:0:0:1]:53", Masquerade, 1)),
		fwm(IPv6, 3, "sh", flags(FlagSHFallback)),
		svc(TCP, "10.0.0.1:443", "mh", flags(FlagMHPort), persist(300, 16), pe("sip")),
	}
	for _, tc := range []struct {
		name string
		opts RenderOptions
	}{
		{"default", RenderOptions{}},
		{"keyorder", RenderOptions{Order: OrderKey}},
		{"stats", RenderOptions{Format: FormatStats}},
		{"stats-exact", RenderOptions{Format: FormatStats, Exact: true}},
		{"rate", RenderOptions{Format: FormatRate}},
		{"rate-exact", RenderOptions{Format: FormatRate, Exact: true}},
		{"thresholds", RenderOptions{Format: FormatThresholds}},
		{"persistent-conn", RenderOptions{Format: FormatPersistentConn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Info = labInfo
			got := RenderString(table, tc.opts)
			golden.Check(t, filepath.Join("testdata", "render-"+tc.name+".golden"), got)
		})
	}
}

func TestRenderDoesNotReorderInput(t *testing.T) {
	table := capturedTable()
	_ = RenderString(table, RenderOptions{Info: labInfo})
	if diff := cmp.Diff(capturedTable(), table, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("Render reordered its input:\n%s", diff)
	}
}

//go:build lab

package ipvskernel

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// varietyTable writes, through the Handle, services and real servers of
// every kind ipvsadm prints differently, including the ones its sort
// orders strangely (addresses and marks more than 2^31 apart).
func varietyTable(t *testing.T, k *kernelNS) {
	t.Helper()
	svcs := ipvstest.ServiceVarieties()
	ap := func(proto ipvs.Protocol, s string) ipvs.Key {
		a := netip.MustParseAddrPort(s)
		return ipvs.Key{Family: ipvs.FamilyOf(a.Addr()), Address: a.Addr(), Protocol: proto, Port: a.Port()}
	}
	svcs = append(svcs,
		ipvs.Service{Key: ap(ipvs.TCP, "10.0.0.1:80"), Scheduler: "rr"},
		ipvs.Service{Key: ap(ipvs.TCP, "200.1.1.1:22"), Scheduler: "wlc", Timeout: 300, Netmask: 24},
		ipvs.Service{Key: ap(ipvs.TCP, "255.255.255.254:65535"), Scheduler: "lblc"},
		ipvs.Service{Key: ap(ipvs.UDP, "[ffff::1]:1"), Scheduler: "lblcr"},
		ipvs.Service{Key: ap(ipvs.TCP, "10.0.0.2:80"), Scheduler: "rr", Flags: ipvs.FlagSched3 | ipvs.FlagSHFallback},
		ipvs.Service{Key: ap(ipvs.TCP, "10.0.0.3:80"), Scheduler: "mh", Flags: ipvs.FlagSched3},
		ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 1}, Scheduler: "lc"},
		ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 0x7fffffff}, Scheduler: "ovf"},
		ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 0x80000000}, Scheduler: "rr"},
		ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 0xffffffff}, Scheduler: "rr"},
	)
	for i, s := range svcs {
		if err := k.h.AddService(s); err != nil {
			t.Fatal(err)
		}
		// A few real servers each, of every method, some far apart.
		for j := 0; j < i%4; j++ {
			d := ipvs.Destination{Forwarding: ipvs.Forwarding(j), Weight: i * j * 1000, UpperThreshold: uint32(j * 7), LowerThreshold: uint32(j)}
			switch {
			case s.Family == ipvs.IPv6:
				d.DestKey = ipvs.DestKey{Address: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(j * 0x90), 15: byte(i)}), Port: uint16(j + 1)}
			default:
				d.DestKey = ipvs.DestKey{Address: netip.AddrFrom4([4]byte{byte(10 + j*100), 1, byte(j), byte(i)}), Port: uint16(8000 + j)}
			}
			if err := k.h.AddDestination(s.Key, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Objects only ipvsadm can make: the dump must read them too.
	k.ipvsadm(t, "-A", "-t", "[2001:db8::5]:81", "-s", "rr")
	k.ipvsadm(t, "-a", "-t", "[2001:db8::5]:81", "-r", "10.1.1.9:81", "-i", "-w", "3")
	k.ipvsadm(t, "-a", "-t", "[2001:db8::5]:81", "-r", "[::1]:80", "-m")
}

// TestRenderMatchesIpvsadm is the renderer's proof: for each listing
// format, Render(Dump()) must be byte for byte what the guest's ipvsadm
// prints for the same table.
func TestRenderMatchesIpvsadm(t *testing.T) {
	k := newKernelNS(t)
	varietyTable(t, k)
	info, err := k.h.Info()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		opts ipvs.RenderOptions
	}{
		{[]string{"-Ln"}, ipvs.RenderOptions{}},
		{[]string{"-Ln", "--nosort"}, ipvs.RenderOptions{Order: ipvs.OrderGiven}},
		{[]string{"-Ln", "--thresholds"}, ipvs.RenderOptions{Format: ipvs.FormatThresholds}},
		{[]string{"-Ln", "--persistent-conn"}, ipvs.RenderOptions{Format: ipvs.FormatPersistentConn}},
		{[]string{"-Ln", "--stats"}, ipvs.RenderOptions{Format: ipvs.FormatStats}},
		{[]string{"-Ln", "--stats", "--exact"}, ipvs.RenderOptions{Format: ipvs.FormatStats, Exact: true}},
		{[]string{"-Ln", "--rate"}, ipvs.RenderOptions{Format: ipvs.FormatRate}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dump, err := k.h.Dump()
			if err != nil {
				t.Fatal(err)
			}
			tc.opts.Info = info
			got := ipvs.RenderString(dump, tc.opts)
			want := k.ipvsadm(t, tc.args...)
			if n := strings.Count(want, "\n"); n < 40 {
				t.Fatalf("ipvsadm %v printed only %d lines: the table was not written?\n%s", tc.args, n, want)
			}
			if len(tc.args) == 1 {
				t.Logf("ipvsadm -Ln:\n%s", want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Render differs from ipvsadm %v (-ipvsadm +ours):\n%s", tc.args, diff)
			}
		})
	}
}

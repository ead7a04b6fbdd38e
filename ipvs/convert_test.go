package ipvs

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestKernelFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  Service
		bits uint32
		back Flags // FlagsFromKernel(svc.Scheduler, bits)
	}{
		{"none", Service{Scheduler: "rr"}, 0, 0},
		{"timeout implies persistent", Service{Scheduler: "rr", Timeout: 300}, 0x1, FlagPersistent},
		{"persistent flag alone", Service{Scheduler: "rr", Flags: FlagPersistent}, 0x1, FlagPersistent},
		{"ops", Service{Scheduler: "rr", Flags: FlagOnePacket}, 0x4, FlagOnePacket},
		{"sh-fallback", Service{Scheduler: "sh", Flags: FlagSHFallback}, 0x8, FlagSHFallback},
		{"sh-port", Service{Scheduler: "sh", Flags: FlagSHPort}, 0x10, FlagSHPort},
		{"mh-fallback", Service{Scheduler: "mh", Flags: FlagMHFallback}, 0x8, FlagMHFallback},
		{"mh-port", Service{Scheduler: "mh", Flags: FlagMHPort}, 0x10, FlagMHPort},
		{"mh both", Service{Scheduler: "mh", Flags: FlagMHFallback | FlagMHPort}, 0x18, FlagMHFallback | FlagMHPort},
		{"sched3", Service{Scheduler: "sh", Flags: FlagSched3}, 0x20, FlagSched3},
		// The first two scheduler bits are shared: under rr they read
		// back with the names the kernel header gives them.
		{"mh flag under rr", Service{Scheduler: "rr", Flags: FlagMHPort}, 0x10, FlagSHPort},
		{"sh flag under mh", Service{Scheduler: "mh", Flags: FlagSHFallback}, 0x8, FlagMHFallback},
		{"everything", Service{Scheduler: "sh", Timeout: 1, Flags: FlagOnePacket | FlagSHFallback | FlagSHPort | FlagSched3}, 0x3d,
			FlagPersistent | FlagOnePacket | FlagSHFallback | FlagSHPort | FlagSched3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.svc.KernelFlags(); got != tc.bits {
				t.Errorf("KernelFlags() = %#x, want %#x", got, tc.bits)
			}
			if got := FlagsFromKernel(tc.svc.Scheduler, tc.bits); got != tc.back {
				t.Errorf("FlagsFromKernel(%q, %#x) = %b, want %b", tc.svc.Scheduler, tc.bits, got, tc.back)
			}
		})
	}
}

func TestFlagsFromKernelDropsHashedAndUnknownBits(t *testing.T) {
	if got := FlagsFromKernel("rr", kernelFlagHashed|kernelFlagPersistent|0x4000); got != FlagPersistent {
		t.Errorf("FlagsFromKernel = %b, want only FlagPersistent", got)
	}
	// Every service the kernel lists has the hashed bit; a round trip must
	// never send it back.
	s := Service{Scheduler: "sh", Flags: FlagsFromKernel("sh", 0x3f)}
	if s.KernelFlags()&kernelFlagHashed != 0 {
		t.Errorf("KernelFlags() = %#x sends the hashed bit", s.KernelFlags())
	}
}

func TestNetmask(t *testing.T) {
	for _, tc := range []struct {
		fam    Family
		prefix uint8
		kernel uint32 // on a little-endian host
		back   uint8
	}{
		{IPv4, 0, 0xffffffff, 32},
		{IPv4, 32, 0xffffffff, 32},
		{IPv4, 24, 0x00ffffff, 24},
		{IPv4, 16, 0x0000ffff, 16},
		{IPv4, 1, 0x00000080, 1},
		{IPv6, 0, 128, 128},
		{IPv6, 64, 64, 64},
		{IPv6, 128, 128, 128},
	} {
		got, err := NetmaskToKernel(tc.fam, tc.prefix)
		if err != nil {
			t.Fatalf("NetmaskToKernel(%s, %d): %v", tc.fam, tc.prefix, err)
		}
		littleEndian := hostOrder(0x01020304) == 0x04030201
		if (tc.fam == IPv6 || littleEndian) && got != tc.kernel {
			t.Errorf("NetmaskToKernel(%s, /%d) = %#08x, want %#08x", tc.fam, tc.prefix, got, tc.kernel)
		}
		if back := NetmaskFromKernel(tc.fam, got); back != tc.back {
			t.Errorf("NetmaskFromKernel(%s, %#x) = %d, want %d", tc.fam, got, back, tc.back)
		}
	}
	for _, tc := range []struct {
		fam    Family
		prefix uint8
	}{{IPv4, 33}, {IPv6, 129}} {
		if _, err := NetmaskToKernel(tc.fam, tc.prefix); !errors.Is(err, unix.EINVAL) {
			t.Errorf("NetmaskToKernel(%s, %d) = %v, want EINVAL", tc.fam, tc.prefix, err)
		}
	}
	// Masks that are not prefixes read back as their leading ones.
	if got := NetmaskFromKernel(IPv4, hostOrder(0xff00ff00)); got != 8 {
		t.Errorf("NetmaskFromKernel(255.0.255.0) = %d, want 8", got)
	}
}

func TestCanonicalKey(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name    string
		in, out Key
	}{
		{"family from address", Key{Address: a, Protocol: TCP, Port: 80}, Key{Family: IPv4, Address: a, Protocol: TCP, Port: 80}},
		{"mapped address", Key{Address: netip.AddrFrom16(a.As16()), Protocol: UDP, Port: 53}, Key{Family: IPv4, Address: a, Protocol: UDP, Port: 53}},
		{"fwmark clears the rest", Key{FWMark: 9, Address: a, Protocol: TCP, Port: 80}, Key{Family: IPv4, FWMark: 9}},
		{"fwmark IPv6", Key{Family: IPv6, FWMark: 9}, Key{Family: IPv6, FWMark: 9}},
	} {
		if got := tc.in.Canonical(); got != tc.out {
			t.Errorf("%s: Canonical() = %+v, want %+v", tc.name, got, tc.out)
		}
	}
}

func TestCanonicalService(t *testing.T) {
	in := Service{Key: Key{Family: IPv6, FWMark: 3}, Scheduler: "rr", Timeout: 60, Flags: FlagMHPort}
	want := Service{Key: Key{Family: IPv6, FWMark: 3}, Scheduler: "rr", Timeout: 60, Netmask: 128, Flags: FlagPersistent | FlagSHPort}
	if got := in.Canonical(); got != want {
		t.Errorf("Canonical() = %+v, want %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	k4 := Key{Family: IPv4, Address: a4, Protocol: TCP, Port: 80}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"ok", ValidateService(Service{Key: k4}), nil},
		{"fwmark ok", ValidateService(Service{Key: Key{FWMark: 1}}), nil},
		{"no address", ValidateService(Service{Key: Key{Family: IPv4, Protocol: TCP}}), unix.EINVAL},
		{"family mismatch", ValidateService(Service{Key: Key{Family: IPv6, Address: a4, Protocol: TCP}}), unix.EAFNOSUPPORT},
		{"bad family", ValidateService(Service{Key: Key{Family: 5, FWMark: 1}}), unix.EAFNOSUPPORT},
		{"dest ok", ValidateDestination(k4, Destination{DestKey: DestKey{Address: a4}}), nil},
		{"dest mixed family", ValidateDestination(k4, Destination{DestKey: DestKey{Address: a6}, Forwarding: Tunnel}), unix.EAFNOSUPPORT},
		{"dest no address", ValidateDestination(k4, Destination{}), unix.EINVAL},
		{"dest bad forwarding", ValidateDestination(k4, Destination{DestKey: DestKey{Address: a4}, Forwarding: 5}), unix.EINVAL},
	} {
		if !errors.Is(tc.err, tc.want) || (tc.want == nil) != (tc.err == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

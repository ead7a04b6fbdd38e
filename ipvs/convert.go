package ipvs

import (
	"fmt"
	"math/bits"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The kernel's service flag bits (include/uapi/linux/ip_vs.h). They are the
// only place our Flags meet the kernel's numbers.
const (
	kernelFlagPersistent uint32 = 0x0001
	// kernelFlagHashed is set by the kernel on every service it lists. It
	// must never be sent back: a new service carrying it is taken as
	// "already hashed" and never inserted into the lookup table.
	kernelFlagHashed    uint32 = 0x0002
	kernelFlagOnePacket uint32 = 0x0004
	kernelFlagSched1    uint32 = 0x0008
	kernelFlagSched2    uint32 = 0x0010
	kernelFlagSched3    uint32 = 0x0020
)

// KernelFlags returns the IP_VS_SVC_F_* bits to send for s: the persistent
// bit whenever a timeout is set, and the scheduler flags mapped onto the
// three bits the kernel shares between schedulers. The hashed bit is never
// included.
func (s Service) KernelFlags() uint32 {
	var b uint32
	if s.Flags&FlagPersistent != 0 || s.Timeout != 0 {
		b |= kernelFlagPersistent
	}
	if s.Flags&FlagOnePacket != 0 {
		b |= kernelFlagOnePacket
	}
	if s.Flags&(FlagSHFallback|FlagMHFallback) != 0 {
		b |= kernelFlagSched1
	}
	if s.Flags&(FlagSHPort|FlagMHPort) != 0 {
		b |= kernelFlagSched2
	}
	if s.Flags&FlagSched3 != 0 {
		b |= kernelFlagSched3
	}
	return b
}

// FlagsFromKernel names the IP_VS_SVC_F_* bits the kernel reported for a
// service using scheduler sched. The first two scheduler bits mean
// mh-fallback and mh-port under mh; under every other scheduler they are
// reported as sh-fallback and sh-port, which is what those bits are called
// in the kernel's header (a non-sh scheduler ignores them, but they must
// survive a round trip). The hashed bit and bits we have no name for are
// dropped.
func FlagsFromKernel(sched string, b uint32) Flags {
	var f Flags
	if b&kernelFlagPersistent != 0 {
		f |= FlagPersistent
	}
	if b&kernelFlagOnePacket != 0 {
		f |= FlagOnePacket
	}
	fallback, port := FlagSHFallback, FlagSHPort
	if sched == "mh" {
		fallback, port = FlagMHFallback, FlagMHPort
	}
	if b&kernelFlagSched1 != 0 {
		f |= fallback
	}
	if b&kernelFlagSched2 != 0 {
		f |= port
	}
	if b&kernelFlagSched3 != 0 {
		f |= FlagSched3
	}
	return f
}

// Canonical returns k in the form a dump reports it: Family filled in from
// the address, IPv4-mapped addresses unmapped, and for fwmark services the
// address, protocol and port cleared (the kernel keys those by mark alone).
// Use it before comparing a hand-built key with a dumped one.
func (k Key) Canonical() Key {
	if k.IsFWMark() {
		if k.Family == 0 {
			k.Family = IPv4
		}
		return Key{Family: k.Family, FWMark: k.FWMark}
	}
	k.Address = k.Address.Unmap()
	if k.Family == 0 && k.Address.IsValid() {
		k.Family = FamilyOf(k.Address)
	}
	return k
}

// Canonical returns s as the kernel would list it back after it was written:
// the key canonical, the persistent flag implied by a timeout, the
// scheduler flags named for the scheduler, the netmask spelled out as the
// family's full length when zero. Comparing the
// canonical forms of a desired and a dumped service tells whether an
// update is needed.
func (s Service) Canonical() Service {
	s.Key = s.Key.Canonical()
	s.Flags = FlagsFromKernel(s.Scheduler, s.KernelFlags())
	if s.Netmask == 0 {
		s.Netmask = fullPrefix(s.Family)
	}
	return s
}

// Canonical returns d as the kernel would list it back after it was
// written: the address unmapped. (A DestinationState's Canonical is that of
// its Destination, without the counters.)
func (d Destination) Canonical() Destination {
	d.Address = d.Address.Unmap()
	return d
}

func fullPrefix(f Family) uint8 {
	if f == IPv6 {
		return 128
	}
	return 32
}

// NetmaskToKernel encodes a persistence netmask the way the kernel keeps it
// in IPVS_SVC_ATTR_NETMASK: for IPv4 a 32-bit mask whose bytes, in memory,
// are in network order (so on a little-endian host 255.255.255.0 is the
// integer 0x00ffffff); for IPv6 simply the prefix length. Zero means the
// family's full length: the kernel refuses an IPv6 netmask of zero, and an
// IPv4 mask of zero would make every client share one persistence entry.
func NetmaskToKernel(f Family, prefix uint8) (uint32, error) {
	if prefix == 0 {
		prefix = fullPrefix(f)
	}
	if prefix > fullPrefix(f) {
		return 0, fmt.Errorf("netmask /%d is too long for %s: %w", prefix, f, unix.EINVAL)
	}
	if f == IPv6 {
		return uint32(prefix), nil
	}
	mask := ^uint32(0) << (32 - uint32(prefix))
	return hostOrder(mask), nil
}

// NetmaskFromKernel decodes IPVS_SVC_ATTR_NETMASK (see NetmaskToKernel)
// into a prefix length. An IPv4 mask that is not a prefix (the kernel
// accepts any 32 bits) is reported by its leading ones.
func NetmaskFromKernel(f Family, v uint32) uint8 {
	if f == IPv6 {
		if v > 128 {
			return 128
		}
		return uint8(v)
	}
	return uint8(bits.LeadingZeros32(^networkOrder(v)))
}

// ipv4Mask renders a prefix length as a dotted-quad mask.
func ipv4Mask(prefix uint8) netip.Addr {
	m := ^uint32(0) << (32 - uint32(prefix))
	if prefix == 0 {
		m = 0
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
}

// validateService applies the checks the kernel makes before touching its
// table, plus the ones our encoding needs, so the fake and the real handle
// refuse the same services with the same errno.
func validateService(s Service) error {
	k := s.Key
	switch {
	case k.Family != IPv4 && k.Family != IPv6:
		return fmt.Errorf("service %s: address family %d: %w", k, k.Family, unix.EAFNOSUPPORT)
	case !k.IsFWMark() && !k.Address.IsValid():
		return fmt.Errorf("service %s: no address and no firewall mark: %w", k, unix.EINVAL)
	case !k.IsFWMark() && FamilyOf(k.Address) != k.Family:
		return fmt.Errorf("service %s: address is not %s: %w", k, k.Family, unix.EAFNOSUPPORT)
	}
	if _, err := NetmaskToKernel(k.Family, s.Netmask); err != nil {
		return fmt.Errorf("service %s: %w", k, err)
	}
	return nil
}

// validateKey checks a key used to name an existing service.
func validateKey(k Key) error {
	return validateService(Service{Key: k})
}

// validateDestination applies the kernel's checks on a real server's
// address family. The kernel accepts a real server of the other family for
// tunnel forwarding only, and only when told the server's family in
// IPVS_DEST_ATTR_ADDR_FAMILY; moby/ipvs never sends that attribute (the
// kernel would silently read an IPv4 address as an IPv6 one), so we refuse
// every mixed-family real server, whatever the forwarding method.
func validateDestination(k Key, d Destination) error {
	if !d.Address.IsValid() {
		return fmt.Errorf("real server %s in %s: no address: %w", d.DestKey, k, unix.EINVAL)
	}
	if d.Forwarding > DirectRoute {
		return fmt.Errorf("real server %s in %s: forwarding method %s: %w", d.DestKey, k, d.Forwarding, unix.EINVAL)
	}
	if FamilyOf(d.Address) != k.Family {
		return fmt.Errorf("real server %s in %s: %s real servers in an %s service are not supported: %w",
			d.DestKey, k, FamilyOf(d.Address), k.Family, unix.EAFNOSUPPORT)
	}
	return nil
}

// ValidateService reports, with the errno the kernel would give, why s
// cannot be written as it stands; nil if it can. The kernel may still
// refuse it for reasons only it knows (an unknown scheduler, say).
func ValidateService(s Service) error { return validateService(s.canonicalKey()) }

// ValidateDestination is ValidateService for a real server of service k.
func ValidateDestination(k Key, d Destination) error {
	k = k.Canonical()
	if err := validateKey(k); err != nil {
		return err
	}
	d.Address = d.Address.Unmap()
	return validateDestination(k, d)
}

func (s Service) canonicalKey() Service {
	s.Key = s.Key.Canonical()
	return s
}

package ipvs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Attribute numbers inside IPVS_CMD_ATTR_SERVICE and IPVS_CMD_ATTR_DEST
// (include/uapi/linux/ip_vs.h). moby/ipvs reads only the 32-bit stats and
// no persistent-connection count, so the dump is ours.
const (
	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9
	svcAttrStats     = 10
	svcAttrPEName    = 11
	svcAttrStats64   = 12

	destAttrAddr         = 1
	destAttrPort         = 2
	destAttrFwdMethod    = 3
	destAttrWeight       = 4
	destAttrUThresh      = 5
	destAttrLThresh      = 6
	destAttrActiveConns  = 7
	destAttrInactConns   = 8
	destAttrPersistConns = 9
	destAttrStats        = 10
	destAttrAddrFamily   = 11
	destAttrStats64      = 12

	fwdMethodMask = 0x7 // IP_VS_CONN_F_FWD_MASK

	// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an
	// attribute type.
	nlaTypeMask = 0x3fff
)

var native = binary.NativeEndian

// dump lists every service (one GET_SERVICE dump) and then each service's
// real servers (one GET_DEST dump per service), in the kernel's order;
// the real servers' stats only withStats.
func (c *genlConn) dump(withStats bool) ([]ServiceWithDests, error) {
	out, err := c.services()
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Destinations, err = c.dumpDests(out[i].Key, withStats); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// counters lists every service's counters in the kernel's order: the
// dump's services, each with its real servers' connection counts summed
// from their messages, none of them parsed further or kept.
func (c *genlConn) counters() ([]ServiceCounters, error) {
	svcs, err := c.services()
	if err != nil {
		return nil, err
	}
	out := make([]ServiceCounters, len(svcs))
	for i, s := range svcs {
		out[i] = ServiceCounters{Key: s.Key, Stats: s.Stats}
		if out[i].ActiveConns, out[i].InactiveConns, err = c.sumDestConns(s.Key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// services lists every service, without its real servers, in the
// kernel's order (one GET_SERVICE dump, streamed: each reply parsed as it
// comes, not kept as a message until the dump ends). The list is made
// for as many services as the last dump found, and copied to its size if
// it grew past that by more than an eighth: a dump of 10,000 services is
// held through a full resync.
func (c *genlConn) services() ([]ServiceWithDests, error) {
	out := make([]ServiceWithDests, 0, c.lastServices)
	err := c.stream(ipvsCmdGetService, noAttrs, func(m []byte) error {
		nest, err := nestedValue(m, ipvsCmdAttrService)
		if err != nil {
			return fmt.Errorf("parsing a virtual server: %w", err)
		}
		s, err := parseService(nest)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing virtual servers: %w", err)
	}
	c.lastServices = len(out)
	if cap(out) > len(out)+len(out)/8 {
		out = slices.Clone(out)
	}
	return out, nil
}

// noAttrs adds no attributes to a request.
func noAttrs(b []byte) []byte { return b }

// sumDestConns adds up the active and inactive connections of k's real
// servers (one GET_DEST dump; a service deleted since the service dump
// has none).
func (c *genlConn) sumDestConns(k Key) (active, inactive uint64, err error) {
	err = c.stream(ipvsCmdGetDest, keyAttrs(k), func(m []byte) error {
		nest, err := nestedValue(m, ipvsCmdAttrDest)
		if err == nil {
			err = walkAttrs(nest, func(typ uint16, v []byte) error {
				switch typ {
				case destAttrActiveConns:
					active += uint64(u32(v))
				case destAttrInactConns:
					inactive += uint64(u32(v))
				}
				return nil
			})
		}
		if err != nil {
			return fmt.Errorf("parsing a real server: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("listing real servers of %s: %w", k, err)
	}
	return active, inactive, nil
}

// getDests lists one service's real servers (one GET_DEST dump). The dump
// cannot tell a missing service from one without real servers, so an empty
// list is confirmed with a GET_SERVICE request, which fails with ESRCH.
func (c *genlConn) getDests(k Key) ([]DestinationState, error) {
	dests, err := c.dumpDests(k, true)
	if err != nil || len(dests) > 0 {
		return dests, err
	}
	if _, err := c.ipvs(ipvsCmdGetService, 0, serviceKeyAttr(k)); err != nil {
		return nil, fmt.Errorf("listing real servers of %s: %w", k, err)
	}
	return dests, nil
}

func (c *genlConn) dumpDests(k Key, withStats bool) ([]DestinationState, error) {
	// Copied to a list of their number: a dump of 10,000 services is held
	// through a full resync, and growing each list by appending would
	// leave it room for up to twice as many.
	scratch, err := c.scratchDests(k, withStats)
	if err != nil {
		return nil, err
	}
	out := make([]DestinationState, len(scratch))
	copy(out, scratch)
	clear(scratch) // drop the stats pointers
	return out, nil
}

// scratchDests lists k's real servers into the connection's scratch list,
// valid until the next call. A service deleted since the service dump
// yields an empty list, not an error: the kernel's dest dump silently
// ends when it finds no service.
func (c *genlConn) scratchDests(k Key, withStats bool) ([]DestinationState, error) {
	scratch := c.dests[:0]
	err := c.stream(ipvsCmdGetDest, keyAttrs(k), func(m []byte) error {
		nest, err := nestedValue(m, ipvsCmdAttrDest)
		if err != nil {
			return fmt.Errorf("parsing a real server: %w", err)
		}
		d, err := parseDestination(k.Family, nest, withStats)
		if err != nil {
			return fmt.Errorf("parsing a real server: %w", err)
		}
		scratch = append(scratch, d)
		return nil
	})
	c.dests = scratch
	if err != nil {
		return nil, fmt.Errorf("listing real servers of %s: %w", k, err)
	}
	return scratch, nil
}

// dumpEach is dump streamed: each is called with every service and its
// real servers, which are only valid during the call, so that a caller
// keeping part of a dump does not hold all of it meanwhile.
func (c *genlConn) dumpEach(withStats bool, each func(*ServiceWithDests) error) error {
	svcs, err := c.services()
	if err != nil {
		return err
	}
	for i := range svcs {
		s := &svcs[i]
		if s.Destinations, err = c.scratchDests(s.Key, withStats); err != nil {
			return err
		}
		err = each(s)
		clear(s.Destinations) // drop the stats pointers
		s.Destinations = nil
		if err != nil {
			return err
		}
	}
	return nil
}

const ipvsCmdAttrDest = 2

// keyAttrs appends the attribute naming k (appendServiceKey).
func keyAttrs(k Key) func([]byte) []byte {
	return func(b []byte) []byte { return appendServiceKey(b, k) }
}

// serviceKeyAttr is the IPVS_CMD_ATTR_SERVICE that names a service, for
// the requests built as nl.NetlinkRequest: appendServiceKey's nested
// attributes as its payload, so both kinds of request name a service with
// the same bytes.
func serviceKeyAttr(k Key) *nl.RtAttr {
	return nl.NewRtAttr(ipvsCmdAttrService, appendServiceKey(nil, k)[unix.SizeofRtAttr:])
}

// nestedIn returns the attributes nested in the reply's top-level
// attribute of type typ.
func nestedIn(m []byte, typ uint16) ([]syscall.NetlinkRouteAttr, error) {
	top, err := parseGenl(m)
	if err != nil {
		return nil, err
	}
	for _, a := range top {
		if a.Attr.Type&nlaTypeMask == typ {
			return nl.ParseRouteAttr(a.Value)
		}
	}
	return nil, fmt.Errorf("reply has no attribute %d", typ)
}

// knownNames are the IPVS schedulers' and persistence engines' names:
// parsing a dump of 10,000 services then allocates none of them.
var knownNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos", "sip"} {
		m[n] = n
	}
	return m
}()

// attrString is a string attribute's value up to its NUL.
func attrString(v []byte) string {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	if s, ok := knownNames[string(v)]; ok {
		return s
	}
	return string(v)
}

func parseService(nest []byte) (ServiceWithDests, error) {
	var (
		s         ServiceWithDests
		af        uint16
		addr      []byte
		flags     uint32
		netmask   uint32
		stats32   []byte
		haveStats bool
	)
	err := walkAttrs(nest, func(typ uint16, v []byte) error {
		switch typ {
		case svcAttrAF:
			af = u16(v)
		case svcAttrProtocol:
			s.Protocol = Protocol(u16(v))
		case svcAttrAddr:
			addr = v
		case svcAttrPort:
			if len(v) >= 2 {
				s.Port = binary.BigEndian.Uint16(v)
			}
		case svcAttrFWMark:
			s.FWMark = u32(v)
		case svcAttrSchedName:
			s.Scheduler = attrString(v)
		case svcAttrFlags:
			flags = u32(v) // struct ip_vs_flags: flags, then mask
		case svcAttrTimeout:
			s.Timeout = u32(v)
		case svcAttrNetmask:
			netmask = u32(v)
		case svcAttrPEName:
			s.PEName = attrString(v)
		case svcAttrStats:
			stats32 = v
		case svcAttrStats64:
			st, err := parseStats(v)
			if err != nil {
				return err
			}
			s.Stats, haveStats = st, true
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	fam, err := afToFamily(af)
	if err != nil {
		return s, err
	}
	s.Family = fam
	if !haveStats && stats32 != nil {
		// Kernels before 4.1 have only the 32-bit counters.
		if s.Stats, err = parseStats(stats32); err != nil {
			return s, err
		}
	}
	if s.FWMark == 0 {
		if s.Address, err = addrFrom(fam, addr); err != nil {
			return s, fmt.Errorf("virtual server address: %w", err)
		}
	} else {
		// The kernel forces fwmark services to TCP internally but does not
		// list protocol or port; keep the key mark-only.
		s.Protocol, s.Port = 0, 0
	}
	s.Flags = FlagsFromKernel(s.Scheduler, flags)
	s.Netmask = NetmaskFromKernel(fam, netmask)
	return s, nil
}

func parseDestination(svcFamily Family, nest []byte, withStats bool) (DestinationState, error) {
	var (
		d         DestinationState
		addr      []byte
		fam       = svcFamily
		stats32   []byte
		haveStats bool
	)
	err := walkAttrs(nest, func(typ uint16, v []byte) error {
		switch typ {
		case destAttrAddr:
			addr = v
		case destAttrPort:
			if len(v) >= 2 {
				d.Port = binary.BigEndian.Uint16(v)
			}
		case destAttrFwdMethod:
			d.Forwarding = Forwarding(u32(v) & fwdMethodMask)
		case destAttrWeight:
			d.Weight = int(int32(u32(v)))
		case destAttrUThresh:
			d.UpperThreshold = u32(v)
		case destAttrLThresh:
			d.LowerThreshold = u32(v)
		case destAttrActiveConns:
			d.ActiveConns = u32(v)
		case destAttrInactConns:
			d.InactiveConns = u32(v)
		case destAttrPersistConns:
			d.PersistConns = u32(v)
		case destAttrAddrFamily:
			// Present since 3.18; a tunnel real server may be of the
			// other family than its service.
			f, err := afToFamily(u16(v))
			if err != nil {
				return err
			}
			fam = f
		case destAttrStats:
			stats32 = v
		case destAttrStats64:
			if !withStats {
				break
			}
			st, err := parseStats(v)
			if err != nil {
				return err
			}
			d.Stats, haveStats = &st, true
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	if withStats && !haveStats && stats32 != nil {
		st, err := parseStats(stats32)
		if err != nil {
			return d, err
		}
		d.Stats = &st
	}
	d.Address, err = addrFrom(fam, addr)
	return d, err
}

// parseStats reads IPVS_STATS_ATTR_* (1..10) from either the 32-bit or the
// 64-bit nest. The attribute length tells the width: the 32-bit nest
// already mixes u32 counters with u64 byte counts.
func parseStats(b []byte) (Stats, error) {
	var s Stats
	fields := [...]*uint64{nil, &s.Conns, &s.InPkts, &s.OutPkts, &s.InBytes, &s.OutBytes,
		&s.CPS, &s.InPPS, &s.OutPPS, &s.InBPS, &s.OutBPS}
	err := walkAttrs(b, func(typ uint16, v []byte) error {
		t := int(typ)
		if t <= 0 || t >= len(fields) {
			return nil // IPVS_STATS_ATTR_PAD and anything newer
		}
		switch len(v) {
		case 8:
			*fields[t] = native.Uint64(v)
		case 4:
			*fields[t] = uint64(native.Uint32(v))
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("parsing stats: %w", err)
	}
	return s, nil
}

func u16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return native.Uint16(v)
}

func u32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return native.Uint32(v)
}

// addrFrom reads a union nf_inet_addr: 16 bytes, an IPv4 address in the
// first four.
func addrFrom(f Family, b []byte) (netip.Addr, error) {
	if f == IPv4 && len(b) >= 4 {
		return netip.AddrFrom4([4]byte(b[:4])), nil
	}
	if f == IPv6 && len(b) >= 16 {
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("%d address bytes for %s", len(b), f)
}

func familyToAF(f Family) uint16 {
	if f == IPv6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func afToFamily(af uint16) (Family, error) {
	switch af {
	case unix.AF_INET:
		return IPv4, nil
	case unix.AF_INET6:
		return IPv6, nil
	}
	return 0, fmt.Errorf("unknown address family %d: %w", af, unix.EAFNOSUPPORT)
}

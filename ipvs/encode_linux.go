package ipvs

import (
	"encoding/binary"
	"fmt"
	"net"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// IPVS write commands (enum ipvs_cmd in include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
)

var writeCmds = [...]uint8{
	WriteAddService: ipvsCmdNewService, WriteUpdateService: ipvsCmdSetService, WriteDeleteService: ipvsCmdDelService,
	WriteAddDest: ipvsCmdNewDest, WriteUpdateDest: ipvsCmdSetDest, WriteDeleteDest: ipvsCmdDelDest,
}

// appendWrite appends w as one generic netlink request of family (header
// with sequence number 0, which the sender fills in) to b. The attributes
// are byte for byte what moby/ipvs sends for the same single call, built
// from the same conversion (toMobyService, toMobyDest), so a batched
// write and a single one cannot differ; appending to one buffer instead
// of building nl.RtAttr trees also spares the cold start its allocations.
func appendWrite(b []byte, family uint16, w Write) ([]byte, error) {
	if int(w.Op) >= len(writeCmds) || writeCmds[w.Op] == 0 {
		return b, fmt.Errorf("unknown IPVS write %v", w.Op)
	}
	var (
		ms  *mobyipvs.Service
		md  *mobyipvs.Destination
		err error
	)
	switch w.Op {
	case WriteAddService, WriteUpdateService:
		ms, err = toMobyService(w.Service)
	case WriteDeleteService:
		ms, err = toMobyService(Service{Key: w.Service.Key})
	case WriteDeleteDest:
		ms, md, err = toMobyDest(w.Service.Key, Destination{DestKey: w.Dest.DestKey})
	default:
		ms, md, err = toMobyDest(w.Service.Key, w.Dest)
	}
	if err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, noHeader[:]...)
	b = append(b, writeCmds[w.Op], ipvsGenlVersion, 0, 0)
	b = appendService(b, ms)
	if md != nil {
		b = appendDest(b, md)
	}
	h := b[start:]
	native.PutUint32(h[0:4], uint32(len(h)))
	native.PutUint16(h[4:6], family)
	native.PutUint16(h[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	return b, nil
}

// noHeader is the room for a request's header, filled in last.
var noHeader [unix.SizeofNlMsghdr]byte

// appendService is moby/ipvs's fillService.
func appendService(b []byte, s *mobyipvs.Service) []byte {
	n := len(b)
	b = appendAttrHeader(b, ipvsCmdAttrService)
	b = appendU16(b, svcAttrAF, s.AddressFamily)
	if s.FWMark != 0 {
		b = appendU32(b, svcAttrFWMark, s.FWMark)
	} else {
		b = appendU16(b, svcAttrProtocol, s.Protocol)
		b = appendAttr(b, svcAttrAddr, rawIP(s.Address))
		b = appendBE16(b, svcAttrPort, s.Port)
	}
	b = appendString(b, svcAttrSchedName, s.SchedName)
	if s.PEName != "" {
		b = appendString(b, svcAttrPEName, s.PEName)
	}
	var flags [8]byte // struct ip_vs_flags: flags, then mask
	native.PutUint32(flags[0:4], s.Flags)
	native.PutUint32(flags[4:8], 0xFFFFFFFF)
	b = appendAttr(b, svcAttrFlags, flags[:])
	b = appendU32(b, svcAttrTimeout, s.Timeout)
	b = appendU32(b, svcAttrNetmask, s.Netmask)
	return endNest(b, n)
}

// appendDest is moby/ipvs's fillDestination.
func appendDest(b []byte, d *mobyipvs.Destination) []byte {
	n := len(b)
	b = appendAttrHeader(b, ipvsCmdAttrDest)
	b = appendAttr(b, destAttrAddr, rawIP(d.Address))
	b = appendBE16(b, destAttrPort, d.Port)
	b = appendU32(b, destAttrFwdMethod, d.ConnectionFlags&mobyipvs.ConnectionFlagFwdMask)
	b = appendU32(b, destAttrWeight, uint32(d.Weight))
	b = appendU32(b, destAttrUThresh, d.UpperThreshold)
	b = appendU32(b, destAttrLThresh, d.LowerThreshold)
	return endNest(b, n)
}

// rawIP is an IPv4 address in 4 bytes, an IPv6 one in 16, as moby sends.
func rawIP(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

func appendAttrHeader(b []byte, typ uint16) []byte {
	b = native.AppendUint16(b, 0) // the length, set by endNest
	return native.AppendUint16(b, typ)
}

// endNest sets the length of the nested attribute that starts at n. Like
// vishvananda/netlink's RtAttr, it counts the padding of the last child.
func endNest(b []byte, n int) []byte {
	native.PutUint16(b[n:n+2], uint16(len(b)-n))
	return b
}

// appendAttr appends one attribute: its length counts the payload, not
// the padding to four bytes that follows it.
func appendAttr(b []byte, typ uint16, v []byte) []byte {
	b = native.AppendUint16(b, uint16(unix.SizeofRtAttr+len(v)))
	b = native.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%unix.RTA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

func appendU16(b []byte, typ, v uint16) []byte {
	return appendAttr(b, typ, native.AppendUint16(make([]byte, 0, 2), v))
}

func appendBE16(b []byte, typ, v uint16) []byte {
	return appendAttr(b, typ, binary.BigEndian.AppendUint16(make([]byte, 0, 2), v))
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	return appendAttr(b, typ, native.AppendUint32(make([]byte, 0, 4), v))
}

func appendString(b []byte, typ uint16, s string) []byte {
	return appendAttr(b, typ, append([]byte(s), 0))
}

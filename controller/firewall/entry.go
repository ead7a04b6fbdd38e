package firewall

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// SetType is an ipset type name, as ipset(8) spells it.
type SetType string

const (
	HashIP       SetType = "hash:ip"
	HashNet      SetType = "hash:net"
	HashIPPort   SetType = "hash:ip,port"
	HashNetPort  SetType = "hash:net,port"
	HashIPPortIP SetType = "hash:ip,port,ip"
	// HashIPPortNet holds (address, proto:port, network) triples.
	HashIPPortNet SetType = "hash:ip,port,net"
)

// hasPort reports whether entries of the type carry a proto:port.
func (t SetType) hasPort() bool { return t != HashIP && t != HashNet }

// Entry is one ipset member. Which fields are meaningful depends on the
// set's type; unused ones are zero. Entry is comparable so that diffs are
// map lookups, and String prints it exactly as `ipset save` does.
type Entry struct {
	IP netip.Addr
	// Bits is the prefix length for net types; a full-length prefix is a
	// host and printed without /len, as ipset prints it.
	Bits     int
	Protocol ipvs.Protocol
	Port     uint16
	IP2      netip.Addr
	Bits2    int
	// Mark and MarkMask are the skbinfo extension of sets created with
	// it: a SET --map-mark rule matching the entry rewrites the packet
	// mark's MarkMask bits to Mark. They are not part of the element:
	// changing them is an add -exist of the same element.
	Mark, MarkMask uint32
}

// appendAddr appends a as ipset prints it: a full-length prefix (or none)
// as the bare address.
func appendAddr(b []byte, a netip.Addr, bits int) []byte {
	b = a.AppendTo(b)
	if bits == 0 || bits == a.BitLen() {
		return b
	}
	return strconv.AppendInt(append(b, '/'), int64(bits), 10)
}

// String prints the element, without extensions.
func (e Entry) String() string { return string(e.appendElement(nil)) }

// appendElement appends String's text. The periodic repair prints every
// desired entry to look it up among the kernel's: at 10,000 Services that
// was most of the repair's garbage while it printed into new strings.
func (e Entry) appendElement(b []byte) []byte {
	b = appendAddr(b, e.IP, e.Bits)
	if e.Protocol != 0 {
		b = append(b, ',')
		switch e.Protocol {
		case ipvs.TCP:
			b = append(b, "tcp"...)
		case ipvs.UDP:
			b = append(b, "udp"...)
		case ipvs.SCTP:
			b = append(b, "sctp"...)
		default:
			b = append(b, strings.ToLower(e.Protocol.String())...)
		}
		b = strconv.AppendUint(append(b, ':'), uint64(e.Port), 10)
	}
	if e.IP2.IsValid() {
		b = appendAddr(append(b, ','), e.IP2, e.Bits2)
	}
	return b
}

// Extensions prints the entry's extensions as `ipset save` does after the
// element ("" for none), with a leading space: what `ipset add` takes.
// The mask is always printed; ipset omits it only when it is 0xffffffff,
// which we never use (it would clobber other agents' mark bits).
func (e Entry) Extensions() string { return string(e.appendExtensions(nil)) }

// appendExtensions appends Extensions' text.
func (e Entry) appendExtensions(b []byte) []byte {
	if e.MarkMask == 0 {
		return b
	}
	b = strconv.AppendUint(append(b, " skbmark 0x"...), uint64(e.Mark), 16)
	return strconv.AppendUint(append(b, "/0x"...), uint64(e.MarkMask), 16)
}

// sameElement reports whether two entries are one ipset element.
func sameElement(a, b Entry) bool {
	a.Mark, a.MarkMask, b.Mark, b.MarkMask = 0, 0, 0, 0
	return a == b
}

// Compare orders entries by address, protocol, port and second address, so
// listings read naturally (10.0.0.2 before 10.0.0.10).
func (e Entry) Compare(o Entry) int {
	return cmp.Or(
		e.IP.Compare(o.IP),
		cmp.Compare(e.Bits, o.Bits),
		cmp.Compare(e.Protocol, o.Protocol),
		cmp.Compare(e.Port, o.Port),
		e.IP2.Compare(o.IP2),
		cmp.Compare(e.Bits2, o.Bits2),
		cmp.Compare(e.Mark, o.Mark),
		cmp.Compare(e.MarkMask, o.MarkMask),
	)
}

// canonical normalises an entry read back from the kernel so that it
// compares equal to the one we computed: host prefixes are stored with
// their full length, addresses unmapped.
func (e Entry) canonical(t SetType) Entry {
	e.IP = e.IP.Unmap()
	if e.IP2.IsValid() {
		e.IP2 = e.IP2.Unmap()
	}
	switch t {
	case HashNet, HashNetPort:
		if e.Bits == 0 {
			e.Bits = e.IP.BitLen()
		}
	default:
		e.Bits = 0
	}
	if t == HashIPPortNet && e.Bits2 == 0 && e.IP2.IsValid() {
		e.Bits2 = e.IP2.BitLen()
	}
	if t != HashIPPortNet {
		e.Bits2 = 0
	}
	return e
}

package ipvs

import "encoding/binary"

// hostOrder returns the integer whose in-memory bytes, on this host, are
// v's bytes in network order. The kernel keeps some IPVS fields (an IPv4
// netmask) as big-endian values inside attributes that userspace reads and
// writes as native integers; this is the bridge between the two views.
func hostOrder(v uint32) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return binary.NativeEndian.Uint32(b[:])
}

// networkOrder undoes hostOrder.
func networkOrder(v uint32) uint32 {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return binary.BigEndian.Uint32(b[:])
}

package ipvs

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// Ordered returns a copy of services (and of each one's real servers) in
// the order Render would list them.
func Ordered(services []ServiceWithDests, o Order) []ServiceWithDests { return ordered(services, o) }

// ordered returns a copy of services (and of each one's real servers) in
// the requested order; the input is never reordered.
func ordered(in []ServiceWithDests, o Order) []ServiceWithDests {
	out := make([]ServiceWithDests, len(in))
	for i, s := range in {
		s.Destinations = slices.Clone(s.Destinations)
		out[i] = s
	}
	switch o {
	case OrderIpvsadm:
		mergeSort(out, func(a, b ServiceWithDests) int { return ipvsadmCmpService(a.Key, b.Key) })
		for _, s := range out {
			mergeSort(s.Destinations, func(a, b DestinationState) int { return ipvsadmCmpDest(a.DestKey, b.DestKey) })
		}
	case OrderKey:
		slices.SortStableFunc(out, func(a, b ServiceWithDests) int { return a.Key.Compare(b.Key) })
		for _, s := range out {
			slices.SortStableFunc(s.Destinations, func(a, b DestinationState) int { return a.DestKey.Compare(b.DestKey) })
		}
	}
	return out
}

// ipvsadm sorts with comparators that subtract unsigned 32-bit values and
// keep the result as a C int, so numbers more than 2^31 apart compare the
// wrong way round (10.0.0.1 sorts after 192.0.2.1, firewall mark
// 4294967295 before 1), and the order is not even transitive. We
// reproduce the comparators, and the merge sort glibc's qsort uses, so
// that the output matches whatever ipvsadm prints.

// wrapCmp is the sign of a-b computed in 32-bit unsigned arithmetic and
// read back as a signed int.
func wrapCmp(a, b uint32) int { return int(int32(a - b)) }

// words are a union nf_inet_addr as four host-order 32-bit words, an
// IPv4 address in the first.
func words(a netip.Addr) [4]uint32 {
	var w [4]uint32
	if a.Is4() {
		b := a.As4()
		w[0] = binary.BigEndian.Uint32(b[:])
		return w
	}
	b := a.As16()
	for i := range w {
		w[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return w
}

// cmpAddrWords compares as ipvsadm does: all four words when the left
// side is IPv6, only the first otherwise.
func cmpAddrWords(a, b netip.Addr) int {
	wa, wb := words(a), words(b)
	n := 1
	if a.Is6() {
		n = 4
	}
	for i := 0; i < n; i++ {
		if r := wrapCmp(wa[i], wb[i]); r != 0 {
			return r
		}
	}
	return 0
}

// kernelAF is the AF_* number ipvsadm compares (AF_INET 2 < AF_INET6 10).
func kernelAF(f Family) int {
	if f == IPv6 {
		return 10
	}
	return 2
}

func ipvsadmCmpService(a, b Key) int {
	if r := wrapCmp(a.FWMark, b.FWMark); r != 0 {
		return r
	}
	if r := kernelAF(a.Family) - kernelAF(b.Family); r != 0 {
		return r
	}
	if r := int(a.Protocol) - int(b.Protocol); r != 0 {
		return r
	}
	if !a.IsFWMark() {
		if r := cmpAddrWords(a.Address, b.Address); r != 0 {
			return r
		}
	}
	return int(a.Port) - int(b.Port)
}

func ipvsadmCmpDest(a, b DestKey) int {
	if r := cmpAddrWords(a.Address, b.Address); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

// mergeSort is glibc's msort: top-down, the left half the smaller one,
// taking from the left run while it compares <= 0. With a comparator that
// is not a total order, only this exact sequence of comparisons gives
// ipvsadm's result.
func mergeSort[T any](xs []T, cmp func(a, b T) int) {
	if len(xs) < 2 {
		return
	}
	tmp := make([]T, len(xs))
	msort(xs, tmp, cmp)
}

func msort[T any](xs, tmp []T, cmp func(a, b T) int) {
	n := len(xs)
	if n <= 1 {
		return
	}
	n1 := n / 2
	left, right := xs[:n1], xs[n1:]
	msort(left, tmp, cmp)
	msort(right, tmp, cmp)
	out := tmp[:0]
	i, j := 0, 0
	for i < len(left) && j < len(right) {
		if cmp(left[i], right[j]) <= 0 {
			out = append(out, left[i])
			i++
		} else {
			out = append(out, right[j])
			j++
		}
	}
	out = append(out, left[i:]...)
	// What is left of the right run is already in place.
	copy(xs, out)
}

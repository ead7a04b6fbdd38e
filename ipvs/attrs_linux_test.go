package ipvs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vishvananda/netlink/nl"
)

func TestWalkAttrs(t *testing.T) {
	two := nl.NewRtAttr(1, nil)
	two.AddRtAttr(2, []byte{7})           // padded to 8 bytes
	two.AddRtAttr(3|0x8000, []byte{8, 9}) // NLA_F_NESTED stripped
	good := two.Serialize()[attrHeaderLen:]
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		err  bool
	}{
		{"two, padded", good, "2:[7] 3:[8 9]", false},
		{"last unpadded", good[:len(good)-2], "2:[7] 3:[8 9]", false},
		{"empty", nil, "", false},
		{"a stray byte after the last is ignored", append(good[:len(good):len(good)], 0), "2:[7] 3:[8 9]", false},
		{"length beyond the buffer", []byte{9, 0, 1, 0, 1, 2, 3, 4}, "", true},
		{"length under the header", []byte{2, 0, 1, 0}, "", true},
	} {
		var got string
		err := walkAttrs(tc.in, func(typ uint16, v []byte) error {
			if got != "" {
				got += " "
			}
			got += fmt.Sprintf("%d:%v", typ, v)
			return nil
		})
		if got != tc.want || (err != nil) != tc.err || (err != nil && !errors.Is(err, errShortAttr)) {
			t.Errorf("%s: walked %q (error %v), want %q (error %t)", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// TestParseDumpAllocatesNothing: a full resync parses a dump message per
// real server; parsing one allocates nothing (its stats, which a sync's
// dump leaves out, are one allocation).
func TestParseDumpAllocatesNothing(t *testing.T) {
	nest := attrs(t, func(a *nl.RtAttr) {
		a.AddRtAttr(destAttrAddr, []byte{10, 1, 2, 3, 15: 0})
		a.AddRtAttr(destAttrPort, nl.BEUint16Attr(8080))
		a.AddRtAttr(destAttrFwdMethod, nl.Uint32Attr(0))
		a.AddRtAttr(destAttrWeight, nl.Uint32Attr(1))
		a.AddRtAttr(destAttrActiveConns, nl.Uint32Attr(5))
		stats32(a, destAttrStats)
		stats64(a, destAttrStats64, 1<<33)
	})
	msg := append([]byte{0, 1, 0, 0}, nl.NewRtAttr(ipvsCmdAttrDest, nest).Serialize()...)
	if n := testing.AllocsPerRun(100, func() {
		v, err := nestedValue(msg, ipvsCmdAttrDest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseDestination(IPv4, v, false); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("parsing one real server allocated %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		v, _ := nestedValue(msg, ipvsCmdAttrDest)
		if _, err := parseDestination(IPv4, v, true); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("parsing one real server with its stats allocated %v times, want 1", n)
	}
}

package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nlmsg is one netlink message of type typ, padded to alignment.
func nlmsg(typ, flags uint16, seq, pid uint32, payload []byte) []byte {
	n := unix.SizeofNlMsghdr + len(payload)
	b := make([]byte, nlmAlign(n))
	*(*unix.NlMsghdr)(unsafe.Pointer(&b[0])) = unix.NlMsghdr{Len: uint32(n), Type: typ, Flags: flags, Seq: seq, Pid: pid}
	copy(b[unix.SizeofNlMsghdr:], payload)
	return b
}

func errnoMsg(seq, pid uint32, errno int32) []byte {
	p := make([]byte, 4)
	native.PutUint32(p, uint32(-errno))
	return nlmsg(unix.NLMSG_ERROR, 0, seq, pid, p)
}

// TestDumpReader: a streamed dump hands its own replies' payloads to each,
// in order, skips other requests' and stops at NLMSG_DONE; the kernel's
// error, each's first error and a malformed datagram end it.
func TestDumpReader(t *testing.T) {
	const seq, pid, family = 7, 42, 0x20
	multi := uint16(unix.NLM_F_MULTI)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		datagrams [][]byte
		failOn    string // each returns boom for this payload
		want      []string
		wantDone  bool
		wantErr   error
		readErr   bool
	}{
		{"two datagrams, then done", [][]byte{
			slices.Concat(nlmsg(family, multi, seq, pid, []byte("a")), nlmsg(family, multi, seq, pid, []byte("bc"))),
			slices.Concat(nlmsg(family, multi, seq, pid, []byte("defg")), nlmsg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4))),
		}, "", []string{"a", "bc", "defg"}, true, nil, false},
		{"another request's late replies are skipped", [][]byte{
			slices.Concat(nlmsg(family, multi, seq-1, pid, []byte("old")), nlmsg(family, multi, seq, pid+1, []byte("other port")),
				nlmsg(family, multi, seq, pid, []byte("x")), nlmsg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4))),
		}, "", []string{"x"}, true, nil, false},
		{"a reply without NLM_F_MULTI is the last", [][]byte{
			nlmsg(family, 0, seq, pid, []byte("only")),
		}, "", []string{"only"}, true, nil, false},
		{"no more datagrams read after the last", [][]byte{
			nlmsg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4)),
			nlmsg(family, multi, seq, pid, []byte("after")),
		}, "", nil, true, nil, false},
		{"the kernel's error", [][]byte{
			errnoMsg(seq, pid, int32(unix.ESRCH)),
		}, "", nil, true, syscall.ESRCH, false},
		{"each's error: the rest is read, not parsed", [][]byte{
			slices.Concat(nlmsg(family, multi, seq, pid, []byte("a")), nlmsg(family, multi, seq, pid, []byte("bad")),
				nlmsg(family, multi, seq, pid, []byte("c"))),
			nlmsg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4)),
		}, "bad", []string{"a", "bad"}, true, boom, false},
		{"a length past the datagram", [][]byte{
			nlmsg(family, multi, seq, pid, []byte("abcd"))[:unix.SizeofNlMsghdr+2],
		}, "", nil, false, nil, true},
		{"a short header", [][]byte{
			make([]byte, 8),
		}, "", nil, false, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			d := dumpReader{seq: seq, pid: pid, each: func(b []byte) error {
				got = append(got, string(b))
				if string(b) == tc.failOn {
					return boom
				}
				return nil
			}}
			var readErr error
			for _, dg := range tc.datagrams {
				if d.done {
					break
				}
				if readErr = d.read(dg); readErr != nil {
					break
				}
			}
			if (readErr != nil) != tc.readErr {
				t.Fatalf("read error %v, want one: %t", readErr, tc.readErr)
			}
			if !slices.Equal(got, tc.want) || d.done != tc.wantDone || !errors.Is(d.err, tc.wantErr) || (d.err == nil) != (tc.wantErr == nil) {
				t.Errorf("payloads %q done %t err %v, want %q %t %v", got, d.done, d.err, tc.want, tc.wantDone, tc.wantErr)
			}
		})
	}
}

// TestServiceKeyEncoding: both kinds of request name a service with the
// bytes the nl.RtAttr tree of moby/ipvs's fillService built for the key
// (family, then mark, or protocol, address and port), captured from it.
func TestServiceKeyEncoding(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{Key{Family: IPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
			"24 00 01 00 06 00 01 00 02 00 00 00 06 00 02 00 06 00 00 00 08 00 03 00 c0 00 02 01 06 00 04 00 00 50 00 00"},
		{Key{Family: IPv6, Protocol: UDP, Address: netip.MustParseAddr("2001:db8::53"), Port: 53},
			"30 00 01 00 06 00 01 00 0a 00 00 00 06 00 02 00 11 00 00 00 14 00 03 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 53 06 00 04 00 00 35 00 00"},
		{Key{Family: IPv4, Protocol: SCTP, Address: netip.MustParseAddr("198.51.100.7"), Port: 3868},
			"24 00 01 00 06 00 01 00 02 00 00 00 06 00 02 00 84 00 00 00 08 00 03 00 c6 33 64 07 06 00 04 00 0f 1c 00 00"},
		{Key{Family: IPv4, FWMark: 42}, "14 00 01 00 06 00 01 00 02 00 00 00 08 00 05 00 2a 00 00 00"},
		{Key{Family: IPv6, FWMark: 7}, "14 00 01 00 06 00 01 00 0a 00 00 00 08 00 05 00 07 00 00 00"},
	} {
		// After a request's headers: 20 bytes, aligned.
		if got := fmt.Sprintf("% x", appendServiceKey(make([]byte, 20), tc.k)[20:]); got != tc.want {
			t.Errorf("%s appended:\n%s\nwant\n%s", tc.k, got, tc.want)
		}
		if got := fmt.Sprintf("% x", serviceKeyAttr(tc.k).Serialize()); got != tc.want {
			t.Errorf("%s as nl.RtAttr:\n%s\nwant\n%s", tc.k, got, tc.want)
		}
	}
}

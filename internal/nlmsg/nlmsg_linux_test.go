package nlmsg

import (
	"errors"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// msg is one netlink message of type typ, padded to alignment.
func msg(typ, flags uint16, seq, pid uint32, payload []byte) []byte {
	n := unix.SizeofNlMsghdr + len(payload)
	b := make([]byte, Align(n))
	*(*unix.NlMsghdr)(unsafe.Pointer(&b[0])) = unix.NlMsghdr{Len: uint32(n), Type: typ, Flags: flags, Seq: seq, Pid: pid}
	copy(b[unix.SizeofNlMsghdr:], payload)
	return b
}

func errnoMsg(seq, pid uint32, errno int32) []byte {
	p := make([]byte, 4)
	native.PutUint32(p, uint32(-errno))
	return msg(unix.NLMSG_ERROR, 0, seq, pid, p)
}

// TestDumpReader: a dump hands its own replies' payloads to each,
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
		wantIntr  bool
	}{
		{"two datagrams, then done", [][]byte{
			slices.Concat(msg(family, multi, seq, pid, []byte("a")), msg(family, multi, seq, pid, []byte("bc"))),
			slices.Concat(msg(family, multi, seq, pid, []byte("defg")), msg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4))),
		}, "", []string{"a", "bc", "defg"}, true, nil, false, false},
		{"another request's late replies are skipped", [][]byte{
			slices.Concat(msg(family, multi, seq-1, pid, []byte("old")), msg(family, multi, seq, pid+1, []byte("other port")),
				msg(family, multi, seq, pid, []byte("x")), msg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4))),
		}, "", []string{"x"}, true, nil, false, false},
		{"a reply without NLM_F_MULTI is the last", [][]byte{
			msg(family, 0, seq, pid, []byte("only")),
		}, "", []string{"only"}, true, nil, false, false},
		{"no more datagrams read after the last", [][]byte{
			msg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4)),
			msg(family, multi, seq, pid, []byte("after")),
		}, "", nil, true, nil, false, false},
		{"the kernel's error", [][]byte{
			errnoMsg(seq, pid, int32(unix.ESRCH)),
		}, "", nil, true, syscall.ESRCH, false, false},
		{"each's error: the rest is read, not parsed", [][]byte{
			slices.Concat(msg(family, multi, seq, pid, []byte("a")), msg(family, multi, seq, pid, []byte("bad")),
				msg(family, multi, seq, pid, []byte("c"))),
			msg(unix.NLMSG_DONE, multi, seq, pid, make([]byte, 4)),
		}, "bad", []string{"a", "bad"}, true, boom, false, false},
		{"a length past the datagram", [][]byte{
			msg(family, multi, seq, pid, []byte("abcd"))[:unix.SizeofNlMsghdr+2],
		}, "", nil, false, nil, true, false},
		{"a dump the kernel marks interrupted", [][]byte{
			slices.Concat(msg(family, multi, seq, pid, []byte("a")), msg(unix.NLMSG_DONE, multi|unix.NLM_F_DUMP_INTR, seq, pid, make([]byte, 4))),
		}, "", []string{"a"}, true, nil, false, true},
		{"a short header", [][]byte{
			make([]byte, 8),
		}, "", nil, false, nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			d := DumpReader{Seq: seq, Pid: pid, Each: func(b []byte) error {
				got = append(got, string(b))
				if string(b) == tc.failOn {
					return boom
				}
				return nil
			}}
			var readErr error
			for _, dg := range tc.datagrams {
				if d.Done {
					break
				}
				if readErr = d.Read(dg); readErr != nil {
					break
				}
			}
			if (readErr != nil) != tc.readErr {
				t.Fatalf("read error %v, want one: %t", readErr, tc.readErr)
			}
			if !slices.Equal(got, tc.want) || d.Done != tc.wantDone || !errors.Is(d.Err, tc.wantErr) || (d.Err == nil) != (tc.wantErr == nil) || d.Interrupted != tc.wantIntr {
				t.Errorf("payloads %q done %t err %v interrupted %t, want %q %t %v %t", got, d.Done, d.Err, d.Interrupted, tc.want, tc.wantDone, tc.wantErr, tc.wantIntr)
			}
		})
	}
}

// attr is one attribute of type typ, padded to alignment.
func attr(typ uint16, v []byte) []byte {
	b := make([]byte, Align(unix.SizeofRtAttr+len(v)))
	native.PutUint16(b[0:2], uint16(unix.SizeofRtAttr+len(v)))
	native.PutUint16(b[2:4], typ)
	copy(b[unix.SizeofRtAttr:], v)
	return b
}

// TestEachAttr: every attribute in order, its value unpadded and its type
// without the nested and byte-order flags; a length past the end or
// below a header's is malformed.
func TestEachAttr(t *testing.T) {
	type kv struct {
		typ uint16
		v   string
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want []kv
		ok   bool
	}{
		{"none", nil, nil, true},
		{"padded values", slices.Concat(attr(1, []byte("abc")), attr(2, []byte("12345678")), attr(3, nil)),
			[]kv{{1, "abc"}, {2, "12345678"}, {3, ""}}, true},
		{"flags masked", attr(5|unix.NLA_F_NESTED, []byte("n")), []kv{{5, "n"}}, true},
		{"the last one unpadded", slices.Concat(attr(1, []byte("ab")), attr(2, []byte("x"))[:unix.SizeofRtAttr+1]),
			[]kv{{1, "ab"}, {2, "x"}}, true},
		{"a length past the end", slices.Concat(attr(1, []byte("ab")), attr(2, []byte("abcdefgh"))[:6]),
			[]kv{{1, "ab"}}, false},
		{"a length below a header's", []byte{2, 0, 1, 0}, nil, false},
		{"trailing bytes", slices.Concat(attr(1, []byte("ab")), []byte{1, 2}), []kv{{1, "ab"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []kv
			ok := EachAttr(tc.b, func(typ uint16, v []byte) { got = append(got, kv{typ, string(v)}) })
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Errorf("EachAttr: %v ok %t, want %v ok %t", got, ok, tc.want, tc.ok)
			}
		})
	}
}

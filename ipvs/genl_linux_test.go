package ipvs

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReplyAdd: what ends a request's replies, and what it returns.
func TestReplyAdd(t *testing.T) {
	errMsg := func(errno int32) syscall.NetlinkMessage {
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, uint32(errno))
		return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.NLMSG_ERROR}, Data: b}
	}
	data := func(flags uint16) syscall.NetlinkMessage {
		return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: 42, Flags: flags}, Data: []byte{1}}
	}
	for _, tc := range []struct {
		name string
		msgs []syscall.NetlinkMessage
		n    int
		err  error
		done bool
	}{
		{"ack", []syscall.NetlinkMessage{errMsg(0)}, 0, nil, true},
		{"errno", []syscall.NetlinkMessage{errMsg(-int32(syscall.ESRCH))}, 0, syscall.ESRCH, true},
		{"single reply", []syscall.NetlinkMessage{data(0)}, 1, nil, true},
		{"dump under way", []syscall.NetlinkMessage{data(unix.NLM_F_MULTI), data(unix.NLM_F_MULTI)}, 2, nil, false},
		{"dump done", []syscall.NetlinkMessage{data(unix.NLM_F_MULTI), {Header: syscall.NlMsghdr{Type: unix.NLMSG_DONE}}}, 1, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			for _, m := range tc.msgs {
				if err := r.add(m); err != nil {
					t.Fatal(err)
				}
			}
			if len(r.msgs) != tc.n || !errors.Is(r.err, tc.err) || (tc.err == nil) != (r.err == nil) || r.done != tc.done {
				t.Errorf("got %d messages, err %v, done %v; want %d, %v, %v", len(r.msgs), r.err, r.done, tc.n, tc.err, tc.done)
			}
		})
	}
	var r reply
	if err := r.add(syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.NLMSG_ERROR}}); err == nil {
		t.Error("a short error message was accepted")
	}
}

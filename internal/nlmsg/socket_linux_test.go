package nlmsg

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// routeSocket is a NETLINK_ROUTE socket of this test's own, and its port.
func routeSocket(t *testing.T) (fd int, pid uint32) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrNetlink).Pid
}

// linkDump is an RTM_GETLINK dump request numbered seq.
func linkDump(seq uint32) []byte {
	b := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&b[0])) = unix.NlMsghdr{Len: uint32(len(b)), Type: unix.RTM_GETLINK,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP, Seq: seq}
	return b
}

// TestDumpOnAKernelSocket: Send and Dump against this host's kernel: the
// link dump lists at least the loopback link and ends; a buffer too
// small for a datagram fails the dump instead of parsing part of it; and
// a dump's receiving allocates nothing per datagram.
func TestDumpOnAKernelSocket(t *testing.T) {
	fd, pid := routeSocket(t)
	buf := make([]byte, DumpBufSize)
	seq := uint32(0)
	dump := func(b []byte) (links int, err error) {
		seq++
		if err := Send(fd, linkDump(seq)); err != nil {
			t.Fatal(err)
		}
		_, err = Dump(fd, b, seq, pid, time.Second, func(m []byte) error {
			if len(m) >= unix.SizeofIfInfomsg {
				links++
			}
			return nil
		})
		return links, err
	}
	if n, err := dump(buf); err != nil || n < 1 {
		t.Fatalf("link dump: %d links, %v; want the loopback link at least", n, err)
	}
	if _, err := dump(buf[:16]); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("a 16-byte buffer: %v, want a datagram cut short", err)
	}
	// The datagram cut short was consumed; the next dump starts clean.
	if n, err := dump(buf); err != nil || n < 1 {
		t.Fatalf("link dump after the short one: %d links, %v", n, err)
	}
	req := linkDump(0)
	allocs := testing.AllocsPerRun(20, func() {
		seq++
		*(*uint32)(unsafe.Pointer(&req[8])) = seq
		if err := Send(fd, req); err != nil {
			t.Fatal(err)
		}
		if _, err := Dump(fd, buf, seq, pid, time.Second, func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a link dump allocated %v times, want none", allocs)
	}
}

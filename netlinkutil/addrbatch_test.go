package netlinkutil

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// TestAppendAddrRequest compares the encoding with the layout AddrAdd and
// AddrDel send for a host address (netlink's addrHandle: ifaddrmsg, then
// IFA_LOCAL and IFA_ADDRESS, no broadcast for /32, IFA_F_NODAD in the
// header's flags byte), assembled here by hand from the kernel's structs.
func TestAppendAddrRequest(t *testing.T) {
	const (
		v4Body = "02 20 00 00 07000000" + // ifaddrmsg: AF_INET, /32, flags, scope, index 7
			" 0800 0200 0a60000a" + // IFA_LOCAL 10.96.0.10
			" 0800 0100 0a60000a" // IFA_ADDRESS
		v6Body = "0a 80 02 00 07000000" + // AF_INET6, /128, IFA_F_NODAD, scope, index 7
			" 1400 0200 fd960000000000000000000000000010" +
			" 1400 0100 fd960000000000000000000000000010"
	)
	for _, tc := range []struct {
		name  string
		typ   uint16
		flags int
		ip    string
		want  string
	}{
		// nlmsghdr: length, type, NLM_F_REQUEST|ACK|EXCL|CREATE, seq 5, port 0.
		{"add v4", rtmNewAddr, newAddrFlags, "10.96.0.10", "28000000 1400 0506 05000000 00000000 " + v4Body},
		{"add v6", rtmNewAddr, newAddrFlags, "fd96::10", "40000000 1400 0506 05000000 00000000 " + v6Body},
		// RTM_DELADDR with NLM_F_REQUEST|NLM_F_ACK only.
		{"del v4", rtmDelAddr, delAddrFlags, "10.96.0.10", "28000000 1500 0500 05000000 00000000 " + v4Body},
		{"del v6", rtmDelAddr, delAddrFlags, "fd96::10", "40000000 1500 0500 05000000 00000000 " + v6Body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := hostAddr(netip.MustParseAddr(tc.ip))
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte{0xee}
			got, err := appendAddrRequest(prefix, tc.typ, tc.flags, 7, a, 5)
			if err != nil {
				t.Fatal(err)
			}
			want := "ee" + strings.ReplaceAll(tc.want, " ", "")
			if h := hex.EncodeToString(got); h != want {
				t.Errorf("request\n got %s\nwant %s", h, want)
			}
		})
	}
}

// TestAppendAddrRequestLongFlags: flags past the header's byte go in
// IFA_FLAGS, as the library sends them.
func TestAppendAddrRequestLongFlags(t *testing.T) {
	a, _ := hostAddr(netip.MustParseAddr("fd96::10"))
	a.Flags = unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
	got, err := appendAddrRequest(nil, rtmNewAddr, newAddrFlags, 7, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tail := hex.EncodeToString(got[len(got)-8:]); tail != "0800080002020000" {
		t.Errorf("IFA_FLAGS attribute %s, want 0800080002020000", tail)
	}
	if got[16+2] != 0 {
		t.Errorf("header flags byte %#x, want 0 with IFA_FLAGS", got[18])
	}
}

// TestAppendAddrRequestRefuses: what the library would encode and this
// encoder does not is refused, not dropped.
func TestAppendAddrRequestRefuses(t *testing.T) {
	wide, _ := netlink.ParseAddr("10.96.0.10/24")
	labelled, _ := hostAddr(netip.MustParseAddr("10.96.0.10"))
	labelled.Label = "ipvs0:1"
	for name, a := range map[string]*netlink.Addr{
		"nil":       nil,
		"broadcast": wide,
		"label":     labelled,
	} {
		if _, err := appendAddrRequest(nil, rtmNewAddr, newAddrFlags, 7, a, 1); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// TestTakeAck: only the kernel's acks of awaited requests count, each
// once, and an error ack gives the bare errno.
func TestTakeAck(t *testing.T) {
	ack := func(seq, pid uint32, typ uint16, errno int32) syscall.NetlinkMessage {
		data := make([]byte, 20)
		nl.NativeEndian().PutUint32(data, uint32(errno))
		return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ, Seq: seq, Pid: pid}, Data: data}
	}
	errs := []error{errNoAck, errNoAck, errNoAck}
	for _, tc := range []struct {
		name string
		from uint32
		m    syscall.NetlinkMessage
		took bool
	}{
		{"ok", 0, ack(100, 7, unix.NLMSG_ERROR, 0), true},
		{"same again", 0, ack(100, 7, unix.NLMSG_ERROR, 0), false},
		{"eexist", 0, ack(101, 7, unix.NLMSG_ERROR, -int32(unix.EEXIST)), true},
		{"not from the kernel", 9, ack(102, 7, unix.NLMSG_ERROR, 0), false},
		{"other port", 0, ack(102, 8, unix.NLMSG_ERROR, 0), false},
		{"not an ack", 0, ack(102, 7, unix.RTM_NEWADDR, 0), false},
		{"before the batch", 0, ack(99, 7, unix.NLMSG_ERROR, 0), false},
		{"after the batch", 0, ack(103, 7, unix.NLMSG_ERROR, 0), false},
	} {
		if got := takeAck(tc.from, 7, 100, tc.m, errs); got != tc.took {
			t.Errorf("%s: took %v, want %v", tc.name, got, tc.took)
		}
	}
	if errs[0] != nil || !errors.Is(errs[1], unix.EEXIST) || errs[2] != errNoAck {
		t.Errorf("errs = %v, want [nil EEXIST awaited]", errs)
	}
}

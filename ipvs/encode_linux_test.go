package ipvs

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// mobyCapture is a moby/ipvs handle whose socket sends to a netlink
// socket of ours instead of the kernel: that socket plays the kernel,
// keeps each request's bytes and acks it. No IPVS is needed, so the
// bytes moby/ipvs sends are compared with ours natively.
type mobyCapture struct {
	moby *mobyipvs.Handle
	peer int
	pid  uint32 // moby's socket
	got  chan []byte
}

func newMobyCapture(t *testing.T) *mobyCapture {
	t.Helper()
	peer, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(peer) })
	if err := unix.Bind(peer, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(peer)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sock.Close)
	pid, err := sock.GetPid()
	if err != nil {
		t.Fatal(err)
	}
	// Unexported fields of the pinned versions (moby/ipvs v1.1.0,
	// vishvananda/netlink v1.3.1): the socket's destination, and the
	// handle's socket, which New would open itself after a modprobe.
	lsa := field(t, sock, "lsa")
	(*unix.SockaddrNetlink)(unsafe.Pointer(lsa.UnsafeAddr())).Pid = sa.(*unix.SockaddrNetlink).Pid
	h := &mobyipvs.Handle{}
	field(t, h, "sock").Set(reflect.ValueOf(sock))
	c := &mobyCapture{moby: h, peer: peer, pid: pid, got: make(chan []byte, 1)}
	go c.serve()
	return c
}

// field is the settable unexported field name of the struct *p.
func field(t *testing.T, p any, name string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(p).Elem().FieldByName(name)
	if !v.IsValid() {
		t.Fatalf("%T has no field %s: the pinned version changed", p, name)
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// serve acks each request as the kernel would, after keeping its bytes.
func (c *mobyCapture) serve() {
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(c.peer, buf, 0)
		if err != nil || n < unix.SizeofNlMsghdr {
			return // closed by the test's cleanup
		}
		req := bytes.Clone(buf[:n])
		ack := make([]byte, unix.SizeofNlMsghdr+4+unix.SizeofNlMsghdr)
		native.PutUint32(ack[0:], uint32(len(ack)))
		native.PutUint16(ack[4:], unix.NLMSG_ERROR)
		copy(ack[8:12], req[8:12]) // the request's sequence number
		native.PutUint32(ack[12:], c.pid)
		copy(ack[20:], req[:unix.SizeofNlMsghdr])
		c.got <- req
		_ = unix.Sendto(c.peer, ack, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: c.pid})
	}
}

// TestWriteEncodingIsMobys: every write we batch is byte for byte the
// request moby/ipvs sends for the same single call (sequence number and
// family id aside: moby's handle here has resolved no family).
func TestWriteEncodingIsMobys(t *testing.T) {
	c := newMobyCapture(t)
	v4 := Key{Family: IPv4, Protocol: TCP, Address: netip.MustParseAddr("10.96.0.10"), Port: 80}
	v6 := Key{Family: IPv6, Protocol: UDP, Address: netip.MustParseAddr("fd00::53"), Port: 53}
	mark := Key{Family: IPv6, FWMark: 42}
	services := []Service{
		{Key: v4, Scheduler: "wrr"},
		{Key: v6, Scheduler: "sh", Flags: FlagSHFallback | FlagSHPort | FlagOnePacket, Timeout: 300, Netmask: 64, PEName: "sip"},
		{Key: mark, Scheduler: "mh", Flags: FlagMHPort},
		{Key: Key{Family: IPv4, FWMark: 7}, Scheduler: "rr", Timeout: 60, Netmask: 24},
	}
	dests := []struct {
		k Key
		d Destination
	}{
		{v4, Destination{DestKey: DestKey{Address: netip.MustParseAddr("10.244.1.2"), Port: 8080}, Weight: 1}},
		{v4, Destination{DestKey: DestKey{Address: netip.MustParseAddr("::ffff:10.244.1.3"), Port: 8080}, Weight: 0, Forwarding: DirectRoute}},
		{v6, Destination{DestKey: DestKey{Address: netip.MustParseAddr("fd00:1::2"), Port: 5353}, Weight: 7, Forwarding: Tunnel, UpperThreshold: 100, LowerThreshold: 10}},
		{mark, Destination{DestKey: DestKey{Address: netip.MustParseAddr("fd00:1::3")}, Weight: 65535}},
	}
	type call struct {
		w    Write
		moby func() error
	}
	var calls []call
	for _, s := range services {
		ms, err := toMobyService(s)
		if err != nil {
			t.Fatal(err)
		}
		key, err := toMobyService(Service{Key: s.Key})
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls,
			call{Write{Op: WriteAddService, Service: s}, func() error { return c.moby.NewService(ms) }},
			call{Write{Op: WriteUpdateService, Service: s}, func() error { return c.moby.UpdateService(ms) }},
			call{Write{Op: WriteDeleteService, Service: s}, func() error { return c.moby.DelService(key) }})
	}
	for _, x := range dests {
		ms, md, err := toMobyDest(x.k, x.d)
		if err != nil {
			t.Fatal(err)
		}
		_, mk, err := toMobyDest(x.k, Destination{DestKey: x.d.DestKey})
		if err != nil {
			t.Fatal(err)
		}
		svc := Service{Key: x.k, Scheduler: "ignored"} // a real server's write names the service by key only
		calls = append(calls,
			call{Write{Op: WriteAddDest, Service: svc, Dest: x.d}, func() error { return c.moby.NewDestination(ms, md) }},
			call{Write{Op: WriteUpdateDest, Service: svc, Dest: x.d}, func() error { return c.moby.UpdateDestination(ms, md) }},
			call{Write{Op: WriteDeleteDest, Service: svc, Dest: x.d}, func() error { return c.moby.DelDestination(ms, mk) }})
	}
	for _, tc := range calls {
		if err := tc.moby(); err != nil {
			t.Fatalf("%v %s through moby: %v", tc.w.Op, tc.w.Service.Key, err)
		}
		want := <-c.got
		got, err := appendWrite(nil, 0, tc.w)
		if err != nil {
			t.Fatalf("%v %s: %v", tc.w.Op, tc.w.Service.Key, err)
		}
		clear(want[8:16]) // sequence number and port id: the sender's
		if !bytes.Equal(got, want) {
			t.Errorf("%v %s %s:\n ours %x\n moby %x", tc.w.Op, tc.w.Service.Key, tc.w.Dest.DestKey, got, want)
		}
	}
}

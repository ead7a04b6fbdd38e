package ipvs

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChunks: batches cover every request once, in order, each within
// both bounds, and none could take the next request too.
func TestChunks(t *testing.T) {
	even := func(n, size int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i * size
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		starts  []int
		end     int
		maxReqs int
	}{
		{"one", []int{0}, 100, 10},
		{"by count", even(25, 100), 2500, 10},
		{"by bytes", even(1000, 144), 144000, 1024},
		{"one request over the byte bound goes alone", []int{0, 100, 100 + batchBytes + 8, 200 + batchBytes + 8}, 300 + batchBytes + 8, 10},
		{"a batch of one", even(5, 100), 500, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := chunks(tc.starts, tc.end, tc.maxReqs)
			if len(cut) == 0 || cut[0] != 0 {
				t.Fatalf("batches start at %v", cut)
			}
			for i, lo := range cut {
				hi := len(tc.starts)
				if i+1 < len(cut) {
					hi = cut[i+1]
				}
				if hi <= lo {
					t.Fatalf("batches %v are not in order", cut)
				}
				size := next(tc.starts, hi-1, tc.end) - tc.starts[lo]
				if hi-lo > tc.maxReqs || (hi-lo > 1 && size > batchBytes) {
					t.Errorf("batch %d: %d requests, %d bytes", i, hi-lo, size)
				}
				if hi < len(tc.starts) && hi-lo < tc.maxReqs && next(tc.starts, hi, tc.end)-tc.starts[lo] <= batchBytes {
					t.Errorf("batch %d could have taken request %d", i, hi)
				}
			}
		})
	}
}

// TestColdStartWritesPerSendmsg counts, natively, how many requests a
// sendmsg carries in a cold start of 10,000 services x 10 real servers
// (the issue 15 figure): the real encoding, cut by the real bounds.
func TestColdStartWritesPerSendmsg(t *testing.T) {
	const services, dests, maxReqs = 10000, 10, maxAckSlots
	var buf []byte
	var starts []int
	for i := range services {
		k := Key{Family: IPv4, Protocol: TCP, Address: netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}), Port: 80}
		ws := []Write{{Op: WriteAddService, Service: Service{Key: k, Scheduler: "rr"}}}
		for j := range dests {
			d := Destination{DestKey: DestKey{Address: netip.AddrFrom4([4]byte{10, 244, byte(i >> 8), byte(i) + byte(j)}), Port: 8080}, Weight: 1}
			ws = append(ws, Write{Op: WriteAddDest, Service: Service{Key: k}, Dest: d})
		}
		for _, w := range ws {
			b, err := appendWrite(buf, 0x20, w)
			if err != nil {
				t.Fatal(err)
			}
			starts, buf = append(starts, len(buf)), b
		}
	}
	cut := chunks(starts, len(buf), maxReqs)
	if len(starts) != services*(dests+1) {
		t.Fatalf("%d requests", len(starts))
	}
	if per := len(starts) / len(cut); per < 2 {
		t.Errorf("%d requests in %d sendmsgs: no batching", len(starts), len(cut))
	}
	t.Logf("figure: %d writes in %d sendmsgs (%.0f per sendmsg, %d bytes), against %d for single calls",
		len(starts), len(cut), float64(len(starts))/float64(len(cut)), len(buf), len(starts))
}

// TestAckSet: only the kernel's acks of this batch's numbers count, once.
func TestAckSet(t *testing.T) {
	errs := make([]error, 3)
	for i := range errs {
		errs[i] = errNoAck
	}
	a := ackSet{first: 100, errs: errs, left: 3, pid: 7}
	ack := func(seq, pid uint32, errno syscall.Errno) (unix.NlMsghdr, []byte) {
		d := make([]byte, 20)
		native.PutUint32(d, uint32(-int32(errno)))
		return unix.NlMsghdr{Type: unix.NLMSG_ERROR, Seq: seq, Pid: pid}, d
	}
	for _, m := range []struct {
		from, seq, pid uint32
		errno          syscall.Errno
	}{
		{0, 99, 7, unix.EEXIST},    // an abandoned request's
		{0, 101, 7, unix.ESRCH},    // the middle one fails
		{0, 101, 7, 0},             // a second ack for it is ignored
		{1234, 100, 7, unix.EPERM}, // not from the kernel
		{0, 100, 8, unix.EPERM},    // another socket's
		{0, 100, 7, 0},
		{0, 103, 7, 0}, // past the batch
	} {
		h, d := ack(m.seq, m.pid, m.errno)
		a.take(m.from, h, d)
	}
	want := []error{nil, unix.ESRCH, errNoAck}
	if fmt.Sprint(errs) != fmt.Sprint(want) || a.left != 1 {
		t.Errorf("got %v with %d left, want %v with 1", errs, a.left, want)
	}
}

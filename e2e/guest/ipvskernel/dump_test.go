//go:build lab

package ipvskernel

import (
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/ipvs"
)

// TestStreamedDump: the dumps read their real servers straight from one
// receive buffer (ipvs/genl_stream_linux.go). A service of 3,000 real
// servers spans dozens of datagrams and 300 services of 10 one each; both
// dumps return every real server, as ipvsadm lists them, the same after a
// counters dump on the same socket. It prints the bytes a sync dump
// allocates per real server.
func TestStreamedDump(t *testing.T) {
	k := newKernelNS(t)
	big := ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("198.18.255.1"), Port: 443}
	ws := []ipvs.Write{{Op: ipvs.WriteAddService, Service: ipvs.Service{Key: big, Scheduler: "wrr"}}}
	for j := range 3000 {
		d := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, 250, byte(j >> 8), byte(j)}), Port: 8443}, Weight: 1 + j%7, Forwarding: ipvs.Masquerade}
		ws = append(ws, ipvs.Write{Op: ipvs.WriteAddDest, Service: ipvs.Service{Key: big}, Dest: d})
	}
	for i := range 300 {
		key := ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Address: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), Port: 80}
		ws = append(ws, ipvs.Write{Op: ipvs.WriteAddService, Service: ipvs.Service{Key: key, Scheduler: "rr"}})
		for j := range 10 {
			d := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, 244, byte(i >> 4), byte(i<<4 | j)}), Port: 8080}, Weight: 1, Forwarding: ipvs.Masquerade}
			ws = append(ws, ipvs.Write{Op: ipvs.WriteAddDest, Service: ipvs.Service{Key: key}, Dest: d})
		}
	}
	for i, err := range k.h.Apply(ws) {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	const wantDests = 3000 + 300*10
	listed := strings.Count(k.ipvsadm(t, "-Ln"), "  -> ") - 1 // less the header's "-> RemoteAddress"
	if listed != wantDests {
		t.Fatalf("ipvsadm lists %d real servers, want %d", listed, wantDests)
	}

	// The second dump is measured: the first grows the connection's
	// buffers, which a daemon's later full resyncs reuse.
	if _, err := k.h.DumpForSync(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	forSync, err := k.h.DumpForSync()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got []ipvs.ServiceWithDests) {
		t.Helper()
		if len(got) != 301 {
			t.Fatalf("%s: %d services, want 301", name, len(got))
		}
		seen := map[netip.Addr]bool{}
		n := 0
		for _, s := range got {
			want := 10
			if s.Key == big {
				want = 3000
			}
			if len(s.Destinations) != want {
				t.Errorf("%s: %s has %d real servers, want %d", name, s.Key, len(s.Destinations), want)
			}
			for _, d := range s.Destinations {
				if seen[d.Address] {
					t.Errorf("%s: real server %s listed twice", name, d.Address)
				}
				seen[d.Address] = true
				n++
			}
		}
		if n != wantDests {
			t.Errorf("%s: %d real servers, want %d", name, n, wantDests)
		}
	}
	check("DumpForSync", forSync)
	if _, err := k.h.Counters(); err != nil {
		t.Fatal(err)
	}
	full, err := k.h.Dump()
	if err != nil {
		t.Fatal(err)
	}
	check("Dump after Counters", full)
	// The streamed form hands over the same services and real servers, in
	// the same order, each only during its call; kept uncopied they would
	// be overwritten by the next service's.
	var streamed []ipvs.ServiceWithDests
	err = k.h.DumpEachForSync(func(s *ipvs.ServiceWithDests) error {
		c := *s
		c.Destinations = slices.Clone(s.Destinations)
		streamed = append(streamed, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("DumpEachForSync", streamed)
	if diff := cmp.Diff(forSync, streamed, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("DumpEachForSync differs from DumpForSync (-want +got):\n%s", diff)
	}
	var none int
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = k.h.DumpEachForSync(func(*ipvs.ServiceWithDests) error { none++; return nil })
	runtime.ReadMemStats(&after)
	if err != nil || none != 301 {
		t.Fatalf("DumpEachForSync keeping nothing: %d services, %v", none, err)
	}
	t.Logf("figure: DumpEachForSync of %d real servers, keeping none of them, allocated %.0f bytes per real server",
		wantDests, float64(after.TotalAlloc-before.TotalAlloc)/wantDests)
	runtime.GC()
	runtime.ReadMemStats(&before)
	forSync, err = k.h.DumpForSync()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: DumpForSync of %d real servers allocated %.0f bytes per real server in %d allocations",
		wantDests, float64(after.TotalAlloc-before.TotalAlloc)/wantDests, after.Mallocs-before.Mallocs)
	const dumps = 20
	var cpu0, cpu1 syscall.Rusage
	start := time.Now()
	must(t, syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0))
	for range dumps {
		if _, err := k.h.DumpForSync(); err != nil {
			t.Fatal(err)
		}
	}
	must(t, syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1))
	cpu := time.Duration(cpu1.Utime.Nano() + cpu1.Stime.Nano() - cpu0.Utime.Nano() - cpu0.Stime.Nano())
	t.Logf("figure: DumpForSync of %d services took %s of wall time and %s of CPU each (mean of %d)",
		len(forSync), time.Since(start)/dumps, cpu/dumps, dumps)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

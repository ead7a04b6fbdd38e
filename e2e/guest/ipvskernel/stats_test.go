//go:build lab

package ipvskernel

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"

	"github.com/ipvsd/ipvsd/ipvs"
)

// TestDumpCounters sends datagrams from inside the namespace to a
// persistent UDP service (IPVS schedules locally generated packets too)
// and checks the dump's counters, persistent connection count and
// connection counts, and that ipvsadm agrees with every one of them.
func TestDumpCounters(t *testing.T) {
	k := newKernelNS(t)
	if err := k.ns.Netlink(func(h *netlink.Handle) error {
		d := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "vip0"}}
		if err := h.LinkAdd(d); err != nil {
			return err
		}
		addr, err := netlink.ParseAddr("10.96.0.1/24")
		if err != nil {
			return err
		}
		if err := h.AddrAdd(d, addr); err != nil {
			return err
		}
		return h.LinkSetUp(d)
	}); err != nil {
		t.Fatal(err)
	}
	key := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.10"), Protocol: ipvs.UDP, Port: 53}
	dest := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.96.0.20"), Port: 5353}, Weight: 1}
	if err := k.h.AddService(ipvs.Service{Key: key, Scheduler: "rr", Timeout: 60}); err != nil {
		t.Fatal(err)
	}
	if err := k.h.AddDestination(key, dest); err != nil {
		t.Fatal(err)
	}

	const packets, size = 5, 100
	if err := k.ns.Do(func() error {
		c, err := net.Dial("udp", "10.96.0.10:53")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < packets; i++ {
			if _, err := c.Write(make([]byte, size)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// The kernel sums its per-CPU counters into what it reports only when
	// the rate estimator runs, every two seconds.
	var dump []ipvs.ServiceWithDests
	for deadline := time.Now().Add(15 * time.Second); ; {
		var err error
		if dump, err = k.h.Dump(); err != nil {
			t.Fatal(err)
		}
		if len(dump) != 1 || len(dump[0].Destinations) != 1 {
			t.Fatalf("dump: %+v", dump)
		}
		if dump[0].Stats.InPkts >= packets || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s, d := dump[0].Stats, dump[0].Destinations[0]
	// 28 bytes of IPv4 and UDP headers per datagram.
	want := ipvs.Stats{Conns: 1, InPkts: packets, InBytes: packets * (size + 28)}
	got := ipvs.Stats{Conns: s.Conns, InPkts: s.InPkts, InBytes: s.InBytes}
	if got != want {
		t.Errorf("service counters %+v, want %+v", s, want)
	}
	if d.Stats.Conns != 1 || d.Stats.InPkts != packets {
		t.Errorf("real server counters %+v, want 1 connection and %d packets", d.Stats, packets)
	}
	if d.PersistConns != 1 {
		t.Errorf("real server has %d persistent connections, want 1 (the template)", d.PersistConns)
	}
	if d.ActiveConns+d.InactiveConns != 1 {
		t.Errorf("real server has %d active + %d inactive connections, want 1 in all", d.ActiveConns, d.InactiveConns)
	}

	// GetDestinations parses the same 64-bit counters. The rate estimates
	// may move between the two reads; the totals no longer do.
	ds, err := k.h.GetDestinations(key)
	if err != nil {
		t.Fatal(err)
	}
	totals := func(d ipvs.DestinationState) ipvs.DestinationState {
		d.Stats.CPS, d.Stats.InPPS, d.Stats.OutPPS, d.Stats.InBPS, d.Stats.OutBPS = 0, 0, 0, 0, 0
		return d
	}
	if len(ds) != 1 {
		t.Errorf("GetDestinations(%s) = %+v, want one real server", key, ds)
	} else if diff := cmp.Diff(totals(d), totals(ds[0]), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("GetDestinations differs from Dump (-dump +get):\n%s", diff)
	}

	// A sync's dump is the same without the real servers' stats.
	forSync, err := k.h.DumpForSync()
	if err != nil {
		t.Fatal(err)
	}
	if len(forSync) != 1 || len(forSync[0].Destinations) != 1 {
		t.Fatalf("DumpForSync: %+v", forSync)
	} else if fd := forSync[0].Destinations[0]; fd.Stats != nil || fd.Destination != d.Destination || fd.ActiveConns+fd.InactiveConns != 1 || fd.PersistConns != 1 {
		t.Errorf("DumpForSync's real server %+v, want %+v with its connection counts and no stats", fd, d.Destination)
	}

	info, err := k.h.Info()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		opts ipvs.RenderOptions
	}{
		{[]string{"-Ln", "--stats", "--exact"}, ipvs.RenderOptions{Format: ipvs.FormatStats, Exact: true}},
		{[]string{"-Ln", "--persistent-conn"}, ipvs.RenderOptions{Format: ipvs.FormatPersistentConn}},
		{[]string{"-Ln"}, ipvs.RenderOptions{}},
	} {
		tc.opts.Info = info
		if diff := cmp.Diff(k.ipvsadm(t, tc.args...), ipvs.RenderString(dump, tc.opts)); diff != "" {
			t.Errorf("Render differs from ipvsadm %v (-ipvsadm +ours):\n%s", tc.args, diff)
		}
	}
}

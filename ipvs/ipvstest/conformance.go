package ipvstest

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/ipvs"
)

// NewKernel returns an empty Kernel for one subtest, cleaned up with t.
type NewKernel func(t *testing.T) ipvs.Kernel

// RunConformance runs one table of behaviour against a Kernel: every write
// and its effect on Dump, GetDestinations and Counters, every error with its errno,
// and the same writes batched (the Kernel must be an ipvs.Batcher). Run against the fake on the host and against ipvs.Handle in the
// kernel lab, it proves the fake fails exactly where the kernel does.
func RunConformance(t *testing.T, newKernel NewKernel) {
	t.Run("ServiceLifecycle", func(t *testing.T) { testServiceLifecycle(t, newKernel) })
	t.Run("DestinationLifecycle", func(t *testing.T) { testDestinationLifecycle(t, newKernel) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, newKernel) })
	t.Run("DumpReturnsCopies", func(t *testing.T) { testDumpCopies(t, newKernel) })
	t.Run("GetDestinations", func(t *testing.T) { testGetDestinations(t, newKernel) })
	t.Run("Counters", func(t *testing.T) { testCounters(t, newKernel) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, newKernel) })
}

// ServiceVarieties are services of every kind the kernel distinguishes:
// each protocol and family, fwmark, persistence with netmasks, the
// scheduler flags, one-packet scheduling, a persistence engine.
func ServiceVarieties() []ipvs.Service {
	ap := func(proto ipvs.Protocol, s string) ipvs.Key {
		a := netip.MustParseAddrPort(s)
		return ipvs.Key{Family: ipvs.FamilyOf(a.Addr()), Address: a.Addr(), Protocol: proto, Port: a.Port()}
	}
	return []ipvs.Service{
		{Key: ap(ipvs.TCP, "192.0.2.1:80"), Scheduler: "rr"},
		{Key: ap(ipvs.UDP, "192.0.2.1:53"), Scheduler: "wrr", Flags: ipvs.FlagOnePacket},
		{Key: ap(ipvs.SCTP, "192.0.2.1:3868"), Scheduler: "lc"},
		{Key: ap(ipvs.TCP, "[2001:db8::1]:443"), Scheduler: "wlc"},
		{Key: ap(ipvs.UDP, "[2001:db8::1]:53"), Scheduler: "sh", Flags: ipvs.FlagSHPort, Timeout: 30, Netmask: 64},
		{Key: ap(ipvs.SCTP, "[2001:db8::2]:3868"), Scheduler: "nq"},
		{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 42}, Scheduler: "sed"},
		{Key: ipvs.Key{Family: ipvs.IPv6, FWMark: 42}, Scheduler: "fo", Timeout: 120, Netmask: 48},
		{Key: ap(ipvs.TCP, "198.51.100.7:22"), Scheduler: "wlc", Timeout: 300, Netmask: 24},
		{Key: ap(ipvs.TCP, "198.51.100.7:23"), Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagSHPort},
		{Key: ap(ipvs.TCP, "198.51.100.7:24"), Scheduler: "mh", Flags: ipvs.FlagMHFallback | ipvs.FlagMHPort},
		{Key: ap(ipvs.UDP, "198.51.100.7:5060"), Scheduler: "rr", Timeout: 60, PEName: "sip", Flags: ipvs.FlagOnePacket},
		{Key: ap(ipvs.TCP, "198.51.100.8:80"), Scheduler: "none"},
		{Key: ap(ipvs.TCP, "198.51.100.9:80"), Scheduler: "dh", Flags: ipvs.FlagPersistent | ipvs.FlagSched3, Timeout: 10},
	}
}

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{})

// dumpCanonical dumps k in key order with counters cleared, ready to
// compare with what was written.
func dumpCanonical(t *testing.T, k ipvs.Kernel) []ipvs.ServiceConfig {
	t.Helper()
	dump, err := k.Dump()
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	got := make([]ipvs.ServiceConfig, len(dump))
	for i := range dump {
		got[i] = dump[i].Config()
		slices.SortFunc(got[i].Destinations, func(a, b ipvs.Destination) int { return a.DestKey.Compare(b.DestKey) })
	}
	slices.SortFunc(got, func(a, b ipvs.ServiceConfig) int { return a.Key.Compare(b.Key) })
	return got
}

// expectTable builds the canonical table a dump should show.
func expectTable(svcs ...ipvs.ServiceConfig) []ipvs.ServiceConfig {
	out := make([]ipvs.ServiceConfig, len(svcs))
	for i, s := range svcs {
		out[i].Service = s.Service.Canonical()
		out[i].Destinations = make([]ipvs.Destination, len(s.Destinations))
		for j, d := range s.Destinations {
			out[i].Destinations[j] = d.Canonical()
		}
		slices.SortFunc(out[i].Destinations, func(a, b ipvs.Destination) int { return a.DestKey.Compare(b.DestKey) })
	}
	slices.SortFunc(out, func(a, b ipvs.ServiceConfig) int { return a.Key.Compare(b.Key) })
	return out
}

// A dump that differs is taken again, up to twice: the kernel resumes a
// service dump that spans several replies by counting the services of
// every network namespace, so services added or removed in another one
// meanwhile (a parallel test's) make it skip or repeat some of ours. A
// table that is really wrong stays wrong.
func checkTable(t *testing.T, k ipvs.Kernel, what string, want []ipvs.ServiceConfig) {
	t.Helper()
	var diff string
	for try := range 3 {
		if diff = cmp.Diff(want, dumpCanonical(t, k), cmpAddrs, cmpopts.EquateEmpty()); diff == "" {
			if try > 0 {
				t.Logf("%s: the table matched at dump %d (an earlier dump was inconsistent)", what, try+1)
			}
			return
		}
	}
	t.Fatalf("%s: table differs in three dumps (-want +got):\n%s", what, diff)
}

func testServiceLifecycle(t *testing.T, newKernel NewKernel) {
	for _, s := range ServiceVarieties() {
		t.Run(s.Key.String(), func(t *testing.T) {
			k := newKernel(t)
			must(t, k.AddService(s))
			checkTable(t, k, "after add", expectTable(ipvs.ServiceConfig{Service: s}))

			u := s
			u.Scheduler, u.Flags, u.Timeout, u.Netmask, u.PEName = "wrr", 0, 0, 0, ""
			must(t, k.UpdateService(u))
			checkTable(t, k, "after update to plain wrr", expectTable(ipvs.ServiceConfig{Service: u}))

			must(t, k.UpdateService(s))
			checkTable(t, k, "after update back", expectTable(ipvs.ServiceConfig{Service: s}))

			must(t, k.DeleteService(s.Key))
			checkTable(t, k, "after delete", nil)
		})
	}
}

func testDestinationLifecycle(t *testing.T, newKernel NewKernel) {
	for _, s := range ServiceVarieties() {
		t.Run(s.Key.String(), func(t *testing.T) {
			k := newKernel(t)
			must(t, k.AddService(s))
			var ds []ipvs.Destination
			for i, fwd := range []ipvs.Forwarding{ipvs.Masquerade, ipvs.DirectRoute, ipvs.Tunnel, ipvs.Local} {
				d := ipvs.Destination{DestKey: destKey(s.Family, i), Weight: i, Forwarding: fwd}
				must(t, k.AddDestination(s.Key, d))
				ds = append(ds, d)
			}
			checkTable(t, k, "after adding real servers", expectTable(ipvs.ServiceConfig{Service: s, Destinations: ds}))

			// Drain one (weight 0), change another's method and limits.
			ds[1].Weight = 0
			ds[2].Forwarding, ds[2].UpperThreshold, ds[2].LowerThreshold = ipvs.Masquerade, 100, 10
			must(t, k.UpdateDestination(s.Key, ds[1]))
			must(t, k.UpdateDestination(s.Key, ds[2]))
			checkTable(t, k, "after updating real servers", expectTable(ipvs.ServiceConfig{Service: s, Destinations: ds}))

			// Updating the service keeps its real servers.
			u := s
			u.Scheduler = "rr"
			must(t, k.UpdateService(u))
			checkTable(t, k, "after updating the service", expectTable(ipvs.ServiceConfig{Service: u, Destinations: ds}))

			must(t, k.DeleteDestination(s.Key, ds[0].DestKey))
			checkTable(t, k, "after deleting a real server", expectTable(ipvs.ServiceConfig{Service: u, Destinations: ds[1:]}))

			// Deleting the service takes its real servers with it.
			must(t, k.DeleteService(s.Key))
			must(t, k.AddService(s))
			checkTable(t, k, "after re-adding the service", expectTable(ipvs.ServiceConfig{Service: s}))
		})
	}
}

// destKey returns the i-th test real server of a family.
func destKey(f ipvs.Family, i int) ipvs.DestKey {
	if f == ipvs.IPv6 {
		return ipvs.DestKey{Address: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xbe, 15: byte(i + 1)}), Port: uint16(8080 + i)}
	}
	return ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}), Port: uint16(8080 + i)}
}

func testDumpCopies(t *testing.T, newKernel NewKernel) {
	k := newKernel(t)
	s := ServiceVarieties()[0]
	d := ipvs.Destination{DestKey: destKey(ipvs.IPv4, 0), Weight: 1}
	must(t, k.AddService(s))
	must(t, k.AddDestination(s.Key, d))
	got, err := k.Dump()
	must(t, err)
	got[0].Scheduler = "changed"
	got[0].Destinations[0].Weight = 99
	checkTable(t, k, "after changing a dump's result", expectTable(ipvs.ServiceConfig{Service: s, Destinations: []ipvs.Destination{d}}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

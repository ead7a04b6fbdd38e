package ipvstest

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// sortedDests reads key's real servers in address order, counters kept.
func sortedDests(t *testing.T, k ipvs.Kernel, key ipvs.Key) []ipvs.DestinationState {
	t.Helper()
	ds, err := k.GetDestinations(key)
	if err != nil {
		t.Fatalf("GetDestinations(%s): %v", key, err)
	}
	slices.SortFunc(ds, func(a, b ipvs.DestinationState) int { return a.DestKey.Compare(b.DestKey) })
	return ds
}

// testGetDestinations fills a table with every variety of service, each
// with none, one or two real servers (the same addresses recurring across
// services), and checks that GetDestinations returns exactly one
// service's real servers, agrees with Dump (counters included), and fails
// with ESRCH once the service is gone.
func testGetDestinations(t *testing.T, newKernel NewKernel) {
	k := newKernel(t)
	svcs := ServiceVarieties()
	want := map[ipvs.Key][]ipvs.Destination{}
	for i, s := range svcs {
		must(t, k.AddService(s))
		for j := range i % 3 {
			d := ipvs.Destination{DestKey: destKey(s.Family, j), Weight: i + j,
				Forwarding: []ipvs.Forwarding{ipvs.Masquerade, ipvs.DirectRoute}[j]}
			must(t, k.AddDestination(s.Key, d))
			want[s.Key] = append(want[s.Key], d.Canonical())
		}
	}
	check := func(what string, skip ipvs.Key) {
		t.Helper()
		for _, s := range svcs {
			if s.Key == skip {
				continue
			}
			got := ipvs.Configs(sortedDests(t, k, s.Key))
			if diff := cmp.Diff(want[s.Key], got, cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: GetDestinations(%s) differs (-want +got):\n%s", what, s.Key, diff)
			}
		}
	}
	check("after adding", ipvs.Key{})

	dump, err := k.Dump()
	must(t, err)
	for _, sd := range dump {
		slices.SortFunc(sd.Destinations, func(a, b ipvs.DestinationState) int { return a.DestKey.Compare(b.DestKey) })
		if diff := cmp.Diff(sd.Destinations, sortedDests(t, k, sd.Key), cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("GetDestinations(%s) differs from Dump (-dump +get):\n%s", sd.Key, diff)
		}
	}

	gone := svcs[2] // a service with real servers
	must(t, k.DeleteService(gone.Key))
	if _, err := k.GetDestinations(gone.Key); !errors.Is(err, unix.ESRCH) {
		t.Errorf("GetDestinations of deleted %s: got error %v, want one wrapping ESRCH", gone.Key, err)
	}
	check("after deleting "+gone.Key.String(), gone.Key)

	// Results are copies: changing one changes nothing in the table.
	ds := sortedDests(t, k, svcs[1].Key)
	ds[0].Weight = 99
	check("after changing a result", gone.Key)
}

// testCounters: Counters lists exactly the services Dump does, in the same
// order, each with Dump's stats and its real servers' connection counts
// summed, and then lists a deleted service no more.
func testCounters(t *testing.T, newKernel NewKernel) {
	k := newKernel(t)
	cr, ok := k.(ipvs.CounterReader)
	if !ok {
		t.Fatalf("%T is not an ipvs.CounterReader", k)
	}
	svcs := ServiceVarieties()
	for i, s := range svcs {
		must(t, k.AddService(s))
		for j := range i % 3 {
			must(t, k.AddDestination(s.Key, ipvs.Destination{DestKey: destKey(s.Family, j), Weight: 1}))
		}
	}
	check := func(what string) {
		t.Helper()
		dump, err := k.Dump()
		must(t, err)
		want := make([]ipvs.ServiceCounters, len(dump))
		for i := range dump {
			want[i] = dump[i].Counters()
		}
		got, err := cr.Counters()
		must(t, err)
		if diff := cmp.Diff(want, got, cmpAddrs); diff != "" {
			t.Errorf("%s: Counters differs from Dump (-dump +counters):\n%s", what, diff)
		}
	}
	check("after adding")
	must(t, k.DeleteService(svcs[2].Key))
	check("after deleting " + svcs[2].Key.String())
}

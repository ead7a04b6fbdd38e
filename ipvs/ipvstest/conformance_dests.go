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

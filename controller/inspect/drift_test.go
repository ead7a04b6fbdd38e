package inspect_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/inspect"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

func tcp(ap string) ipvs.Key {
	a := netip.MustParseAddrPort(ap)
	return ipvs.Key{Family: ipvs.IPv4, Address: a.Addr(), Protocol: ipvs.TCP, Port: a.Port()}
}

func dest(ap string, w int) ipvs.Destination {
	a := netip.MustParseAddrPort(ap)
	return ipvs.Destination{DestKey: ipvs.DestKey{Address: a.Addr(), Port: a.Port()}, Weight: w}
}

func TestCompare(t *testing.T) {
	web, api, gone, db, other := tcp("192.0.2.1:80"), tcp("192.0.2.2:80"), tcp("192.0.2.3:80"), tcp("192.0.2.4:80"), tcp("192.0.2.5:80")
	desired := []desired.VirtualServer{
		{Service: ipvs.Service{Key: web, Scheduler: "rr"}, Owner: "web", Destinations: []ipvs.Destination{dest("10.0.0.1:80", 1), dest("10.0.0.2:80", 2)}},
		{Service: ipvs.Service{Key: api, Scheduler: "rr"}, Owner: "api"},
		{Service: ipvs.Service{Key: db, Scheduler: "rr"}, Owner: "db"},
	}
	actual := []ipvs.ServiceWithDests{
		{Service: ipvs.Service{Key: web, Scheduler: "wlc", Timeout: 60, Netmask: 32}, Destinations: ipvs.Listed([]ipvs.Destination{
			dest("10.0.0.2:80", 5), dest("10.0.0.3:80", 0), dest("10.0.0.4:80", 1)})},
		{Service: ipvs.Service{Key: gone, Scheduler: "rr"}},
		{Service: ipvs.Service{Key: db, Scheduler: "rr"}},
		{Service: ipvs.Service{Key: other, Scheduler: "rr"}},
	}
	rec := runstate.Record{Services: map[ipvs.Key]string{web: "web", api: "api", gone: "old"}}
	got := inspect.Compare(desired, actual, rec)
	want := []inspect.Drift{
		{Kind: inspect.Changed, Service: "TCP 192.0.2.1:80", Owner: "web",
			Changes: []string{"scheduler wlc, want rr", "flags persistent, want none", "timeout 60, want 0"},
			Destinations: []inspect.DestDrift{
				{Kind: inspect.Missing, Destination: "10.0.0.1:80", Changes: []string{"want weight 1 Masq"}},
				{Kind: inspect.Changed, Destination: "10.0.0.2:80", Changes: []string{"weight 5, want 2"}},
				{Kind: inspect.Draining, Destination: "10.0.0.3:80"},
				{Kind: inspect.Extra, Destination: "10.0.0.4:80"},
			}},
		{Kind: inspect.Missing, Service: "TCP 192.0.2.2:80", Owner: "api"},
		{Kind: inspect.Extra, Service: "TCP 192.0.2.3:80", Owner: "old"},
		{Kind: inspect.Conflict, Service: "TCP 192.0.2.4:80", Owner: "db", Changes: []string{"exists in the kernel but was not created by ipvsd"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got[0].Settled() {
		t.Error("a changed service counts as settled")
	}
}

func TestCompareInSyncAndDraining(t *testing.T) {
	web := tcp("192.0.2.1:80")
	desired := []desired.VirtualServer{{Service: ipvs.Service{Key: web, Scheduler: "rr"}, Owner: "web", Destinations: []ipvs.Destination{dest("10.0.0.1:80", 1)}}}
	actual := []ipvs.ServiceWithDests{{Service: ipvs.Service{Key: web, Scheduler: "rr", Netmask: 32}, Stats: ipvs.Stats{Conns: 9},
		Destinations: []ipvs.DestinationState{{Destination: dest("10.0.0.1:80", 1), ActiveConns: 3}}}}
	rec := runstate.Record{Services: map[ipvs.Key]string{web: "web"}}
	if got := inspect.Compare(desired, actual, rec); len(got) != 0 {
		t.Errorf("in sync, got %+v", got)
	}
	actual[0].Destinations = append(actual[0].Destinations, ipvs.DestinationState{Destination: dest("10.0.0.2:80", 0)})
	got := inspect.Compare(desired, actual, rec)
	if len(got) != 1 || !got[0].Settled() {
		t.Errorf("a draining real server: %+v, want one settled entry", got)
	}
}

func TestOwners(t *testing.T) {
	web := tcp("192.0.2.1:80")
	owner := inspect.Owners(runstate.Record{Services: map[ipvs.Key]string{web: "web", tcp("192.0.2.2:80"): ""}})
	for k, want := range map[ipvs.Key]string{web: "web", tcp("192.0.2.2:80"): "ipvsd", tcp("192.0.2.9:80"): inspect.Foreign} {
		if got := owner(k); got != want {
			t.Errorf("owner(%s) = %q, want %q", k, got, want)
		}
	}
}

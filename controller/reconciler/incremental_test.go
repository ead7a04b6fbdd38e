package reconciler_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// bigDesired builds n virtual servers with m real servers each, spread
// over VIPs in 198.18.0.0/15 (RFC 2544 benchmarking space).
func bigDesired(n, m int) desired.State {
	var d desired.State
	for i := range n {
		vip := netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(i%250 + 1)})
		k := ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 80}
		vs := desired.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: "wrr"}, Owner: fmt.Sprintf("svc-%d", i)}
		for j := range m {
			be := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(j + 1)})
			vs.Destinations = append(vs.Destinations, ipvs.Destination{DestKey: ipvs.DestKey{Address: be, Port: 8080}, Weight: 1})
		}
		d.Services = append(d.Services, vs)
	}
	d.Addresses = d.ServiceAddresses()
	return d
}

func TestIncrementalSyncIsProportionalToChange(t *testing.T) {
	e := newEnv(t)
	d := bigDesired(1000, 10)
	res := e.sync(d)
	if res.Services.Added != 1000 || res.Destinations.Added != 10000 {
		t.Fatalf("cold sync: %s", &res)
	}
	steps := []struct {
		name   string
		change func(d *desired.State)
		writes int
		// reads: a service is read before it is deleted, to tell one
		// changed by hand (then foreign, and left) from ours.
		reads int
	}{
		{"nothing", func(*desired.State) {}, 0, 0},
		{"one weight", func(d *desired.State) { d.Services[500].Destinations[3].Weight = 9 }, 1, 0},
		{"one new real server", func(d *desired.State) {
			d.Services[7].Destinations = append(d.Services[7].Destinations, desiredtest.Dest("10.9.9.9:8080", 1))
		}, 1, 0},
		{"one removed real server (drain: weight 0)", func(d *desired.State) {
			d.Services[8].Destinations = d.Services[8].Destinations[1:]
		}, 1, 0},
		{"one scheduler", func(d *desired.State) { d.Services[999].Scheduler = "lc" }, 1, 0},
		{"one owner label only", func(d *desired.State) { d.Services[1].Owner = "renamed" }, 0, 0},
		{"one removed service", func(d *desired.State) { d.Services = d.Services[:999] }, 1, 1},
	}
	for _, s := range steps {
		s.change(&d)
		res, writes, dumps := e.syncCounting(d)
		if writes != s.writes || dumps != s.reads || res.Full {
			t.Errorf("%s: %d writes, %d reads (want %d, %d): %s", s.name, writes, dumps, s.writes, s.reads, &res)
		}
	}
}

// TestNoopAllocatesNothing: once synced, a sync or an empty Apply that
// changes nothing allocates nothing, whatever the table's size: the
// steady state of a large node must not churn the garbage collector.
func TestNoopAllocatesNothing(t *testing.T) {
	d := bigDesired(1000, 4)
	// desired.json written in the sync: a background writer's allocations,
	// in another goroutine, would count too (AllocsPerRun counts them all).
	defer reconciler.PublishInBackgroundFrom(len(d.Services) + 1)()
	r := benchReconciler(t, ipvstest.New())
	if _, err := r.Sync(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, f := range map[string]func(){
		"empty Apply":    func() { _, _ = r.Apply(ctx, desired.Update{}) },
		"unchanged Sync": func() { _, _ = r.Sync(ctx, d) },
	} {
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %.1f allocations, want 0", name, n)
		}
	}
}

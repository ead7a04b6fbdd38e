package reconciler_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// randomDesired draws a desired state from a small universe, so successive
// states overlap: services come and go, real servers are added, reweighted
// and removed, schedulers and persistence change.
func randomDesired(rng *rand.Rand) desired.State {
	vips := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}
	ports := []uint16{53, 80, 443}
	protos := []ipvs.Protocol{ipvs.TCP, ipvs.UDP, ipvs.SCTP}
	scheds := []string{"rr", "wrr", "lc", "sh"}
	var d desired.State
	for _, v := range vips {
		a := netip.MustParseAddr(v)
		for _, p := range ports {
			for _, proto := range protos {
				if rng.IntN(3) != 0 {
					continue
				}
				k := ipvs.Key{Family: ipvs.FamilyOf(a), Address: a, Protocol: proto, Port: p}
				vs := desired.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: scheds[rng.IntN(len(scheds))]}, Owner: k.String()}
				if rng.IntN(4) == 0 {
					vs.Timeout = 300
				}
				for j := range 6 {
					if rng.IntN(2) == 0 {
						continue
					}
					be := netip.AddrFrom4([4]byte{10, 0, 0, byte(j + 1)})
					if a.Is6() {
						be = netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%d", j+1))
					}
					fwd := ipvs.Masquerade
					if rng.IntN(4) == 0 {
						fwd = ipvs.DirectRoute
					}
					vs.Destinations = append(vs.Destinations, ipvs.Destination{
						DestKey: ipvs.DestKey{Address: be, Port: 8000 + uint16(rng.IntN(2))}, Weight: rng.IntN(4), Forwarding: fwd,
					})
				}
				d.Services = append(d.Services, vs)
			}
		}
	}
	// Shuffled: the reconciler must not depend on input order.
	rng.Shuffle(len(d.Services), func(i, j int) { d.Services[i], d.Services[j] = d.Services[j], d.Services[i] })
	d.Addresses = d.ServiceAddresses()
	return d
}

// foreignServices live next to ours: one on a VIP we use, with a port we
// never manage, one on an address we never use.
var foreignServices = []ipvs.ServiceConfig{
	{Service: ipvs.Service{Key: desiredtest.TCP("192.0.2.1:9999"), Scheduler: "sh"}, Destinations: []ipvs.Destination{desiredtest.Dest("10.9.0.1:80", 7)}},
	{Service: ipvs.Service{Key: desiredtest.UDP("203.0.113.9:53"), Scheduler: "rr"}, Destinations: []ipvs.Destination{desiredtest.Dest("10.9.0.2:53", 1)}},
}

// expectedTable renders what the kernel must hold: the foreign services
// and exactly the desired ones.
func expectedTable(t *testing.T, d desired.State) string {
	t.Helper()
	k := ipvstest.New()
	addServices(t, k, foreignServices...)
	for _, vs := range d.Services {
		must(t, k.AddService(vs.Service))
		for _, dst := range vs.Destinations {
			must(t, k.AddDestination(vs.Key, dst))
		}
	}
	return renderTable(t, k)
}

func TestRandomStatesInRandomOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	states := make([]desired.State, 25)
	for i := range states {
		states[i] = randomDesired(rng)
	}
	e := newEnv(t)
	addServices(t, e.kernel, foreignServices...)
	e.addrs.AddOther(addr("203.0.113.9"))

	var full, incremental, drains, writes int
	for round := range 3 {
		for n, i := range rng.Perm(len(states)) {
			d := states[i]
			step := fmt.Sprintf("round %d step %d (state %d)", round, n, i)
			// Random gaps mix incremental syncs and full resyncs; an
			// occasional restart checks adoption mid-sequence.
			e.advance(time.Duration(rng.IntN(40)) * time.Second)
			if rng.IntN(8) == 0 {
				e.restart()
			}
			res := e.sync(d)
			if res.Full {
				full++
			} else {
				incremental++
			}
			drains += res.DrainsStarted
			writes += res.Writes()
			// Removed TCP real servers drain; with no connections they go
			// at the next check.
			e.advance(5 * time.Second)
			res = e.sync(d)
			if res.Draining != 0 {
				t.Fatalf("%s: still draining: %s", step, &res)
			}
			if got, want := e.table(), expectedTable(t, d); got != want {
				t.Fatalf("%s: table\n%s\nwant:\n%s", step, got, want)
			}
			dummy, _ := e.addrs.Addresses()
			if len(dummy) != len(d.Addresses) {
				t.Fatalf("%s: dummy link %v, want %v", step, dummy, d.Addresses)
			}
			for _, a := range d.Addresses {
				if !dummy[a] {
					t.Fatalf("%s: %s not bound", step, a)
				}
			}
			if res, writes, _ := e.syncCounting(d); writes != 0 || res.Writes() != 0 {
				t.Fatalf("%s: repeated sync wrote %d: %s", step, writes, &res)
			}
		}
	}
	t.Logf("%d full and %d incremental syncs, %d writes, %d drains", full, incremental, writes, drains)
	if full == 0 || incremental == 0 || drains == 0 {
		t.Errorf("the sequence did not exercise every path")
	}
}

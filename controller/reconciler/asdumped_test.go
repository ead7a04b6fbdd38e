package reconciler

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

// TestModelIs: a dump is taken for the model when its service and real
// servers are the model's as written, listed in the model's order or
// reversed (as the kernel lists what was added in order), and for nothing
// else: another weight, forwarding, real server, count, order or service
// parameter.
func TestModelIs(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:80")
	key := ipvs.Key{Family: ipvs.IPv4, Address: a.Addr(), Protocol: ipvs.TCP, Port: a.Port()}
	dest := func(last byte, w int) ipvs.Destination {
		return ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, 0, 0, last}), Port: 8080}, Weight: w}
	}
	model := ipvs.ServiceConfig{Service: ipvs.Service{Key: key, Scheduler: "rr"}.Canonical(),
		Destinations: []ipvs.Destination{dest(1, 1), dest(2, 1), dest(3, 1)}}
	dumped := func(ds ...ipvs.Destination) *ipvs.ServiceWithDests {
		return &ipvs.ServiceWithDests{Service: ipvs.Service{Key: key, Scheduler: "rr"}, Destinations: ipvs.Listed(ds),
			Stats: ipvs.Stats{Conns: 7}}
	}
	masq := dest(2, 1)
	masq.Forwarding = ipvs.DirectRoute
	other := dumped(dest(1, 1), dest(2, 1), dest(3, 1))
	other.Scheduler = "wrr"
	withConns := dumped(dest(1, 1), dest(2, 1), dest(3, 1))
	withConns.Destinations[1].ActiveConns = 5
	for name, tc := range map[string]struct {
		a    *ipvs.ServiceWithDests
		want bool
	}{
		"same order":         {dumped(dest(1, 1), dest(2, 1), dest(3, 1)), true},
		"reversed":           {dumped(dest(3, 1), dest(2, 1), dest(1, 1)), true},
		"counters differ":    {withConns, true},
		"other order":        {dumped(dest(2, 1), dest(1, 1), dest(3, 1)), false},
		"a weight":           {dumped(dest(1, 1), dest(2, 0), dest(3, 1)), false},
		"a forwarding":       {dumped(dest(1, 1), masq, dest(3, 1)), false},
		"another server":     {dumped(dest(1, 1), dest(2, 1), dest(4, 1)), false},
		"one missing":        {dumped(dest(1, 1), dest(2, 1)), false},
		"one more":           {dumped(dest(1, 1), dest(2, 1), dest(3, 1), dest(4, 1)), false},
		"the scheduler":      {other, false},
		"reversed, a weight": {dumped(dest(3, 1), dest(2, 2), dest(1, 1)), false},
	} {
		if got := modelIs(&model, tc.a); got != tc.want {
			t.Errorf("%s: modelIs = %v, want %v", name, got, tc.want)
		}
	}
	empty := ipvs.ServiceConfig{Service: model.Service}
	if !modelIs(&empty, dumped()) || modelIs(&empty, dumped(dest(1, 1))) {
		t.Error("a service without real servers: taken for the model only when the dump has none either")
	}
	if !slices.Equal(model.Destinations, []ipvs.Destination{dest(1, 1), dest(2, 1), dest(3, 1)}) {
		t.Error("modelIs changed the model")
	}
}

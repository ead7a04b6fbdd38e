package dataplane

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestFirewallUpdatesAddUp: each change's firewall update reaches the
// firewall as it is (applied, or repaired when a check is due or the last
// repair failed), and updates made while the firewall is not open (on
// demand, or failing to open) are handed to it whole once it opens, so
// none is lost.
func TestFirewallUpdatesAddUp(t *testing.T) {
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	fw := &dataplanetest.Firewall{}
	openErr := errors.New("no iptables")
	p, err := New(Config{FullResyncInterval: time.Minute, FirewallOnDemand: true}, Deps{
		IPVS: fakeIPVS{c: &calls{}},
		OpenFirewall: func(context.Context) (Firewall, error) {
			if openErr != nil {
				return nil, openErr
			}
			return fw, nil
		},
		Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	vs := func(addr string) firewall.Part {
		a := netip.MustParseAddr(addr)
		return firewall.Part{Services: []firewall.VirtualServer{{Key: ipvs.Key{Family: ipvs.IPv4, Address: a, Protocol: ipvs.TCP, Port: 80}}}}
	}
	hairpin := firewall.Part{Hairpins: []firewall.Hairpin{{Backend: netip.MustParseAddr("10.244.0.5"), Protocol: ipvs.TCP, Port: 80}}}
	src := &fakeSource{c: &calls{}}
	for i, step := range []struct {
		parts                 map[string]firewall.Part
		openErr, fwErr        error
		wantErr               bool
		wantApplies, wantReps int
		wantAddrs             []string
	}{
		// A hairpin alone does not open an on-demand firewall.
		{map[string]firewall.Part{"ns/a": hairpin}, openErr, nil, false, 0, 0, nil},
		{map[string]firewall.Part{"ns/b": vs("10.96.0.2")}, openErr, nil, true, 0, 0, nil},
		{map[string]firewall.Part{"ns/c": vs("10.96.0.3")}, nil, nil, false, 1, 1, []string{"10.96.0.2", "10.96.0.3"}},
		{map[string]firewall.Part{"ns/b": {}}, nil, nil, false, 2, 1, []string{"10.96.0.3"}},
		{nil, nil, errors.New("ipset: exit status 1"), true, 3, 1, []string{"10.96.0.3"}},
		{map[string]firewall.Part{"ns/d": vs("10.96.0.4")}, nil, nil, false, 4, 1, []string{"10.96.0.3", "10.96.0.4"}},
	} {
		clock.now = clock.now.Add(time.Second)
		openErr, fw.Err = step.openErr, step.fwErr
		src.next.Firewall = firewall.Update{Parts: step.parts}
		if _, err := p.SyncOnce(context.Background(), src); (err != nil) != step.wantErr {
			t.Errorf("step %d: error %v, want one: %t", i, err, step.wantErr)
		}
		if applies, repairs := fw.Calls(); applies != step.wantApplies || repairs != step.wantReps {
			t.Errorf("step %d: %d applies and %d repairs, want %d and %d", i, applies, repairs, step.wantApplies, step.wantReps)
		}
		var addrs []string
		last := fw.Last()
		for _, s := range last.Services {
			addrs = append(addrs, s.Key.Address.String())
		}
		if diff := cmp.Diff(step.wantAddrs, addrs); diff != "" {
			t.Errorf("step %d: the firewall's services (-want +got):\n%s", i, diff)
		}
		if step.wantApplies > 0 && len(last.Hairpins) != 1 {
			t.Errorf("step %d: the hairpin given before the firewall opened is lost: %+v", i, last.Hairpins)
		}
	}
}

//go:build lab

package reconciler

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
)

// ownedState is two services on one VIP with the parameters ipvsd
// records (persistence with a netmask, scheduler flags), so that the
// checks below compare them with what the real kernel lists back.
func ownedState() desired.State {
	vip := netip.MustParseAddr("10.96.0.10")
	dest := func(a string) ipvs.Destination {
		return ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr(a), Port: 8080}, Weight: 1}
	}
	d := desired.State{Services: []desired.VirtualServer{
		{Owner: "own/web", DrainTimeout: -1, Service: ipvs.Service{
			Key: ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr", Timeout: 300, Netmask: 24},
			Destinations: []ipvs.Destination{dest("10.100.1.2")}},
		{Owner: "own/tls", DrainTimeout: -1, Service: ipvs.Service{
			Key: ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 443}, Scheduler: "sh", Flags: ipvs.FlagSHPort},
			Destinations: []ipvs.Destination{dest("10.100.2.2")}},
	}}
	d.Addresses = d.ServiceAddresses()
	return d
}

// TestRecordedParametersMatchTheKernel: what ipvsd records of a service
// is what the real kernel lists back, so a restarted ipvsd still deletes
// its own services (none is taken for hand-changed).
func TestRecordedParametersMatchTheKernel(t *testing.T) {
	record := cleanKernel(t)
	ctx := context.Background()
	n := newNode(t, record, reconciler.Config{})
	if _, err := n.rec.Sync(ctx, ownedState()); err != nil {
		t.Fatal(err)
	}
	n.close()
	n = newNode(t, record, reconciler.Config{})
	defer n.close()
	res, err := n.rec.Sync(ctx, desired.State{})
	if err != nil || res.Services.Deleted != 2 {
		t.Fatalf("%s, %v", res.String(), err)
	}
	if got := ipvsadm(t, "-Ln"); strings.Contains(got, "TCP") {
		t.Fatalf("left behind:\n%s", got)
	}
}

// TestHandChangedServiceLeftAlone changes the scheduler of one of ours
// with ipvsadm -E; once it leaves the desired state it is not deleted
// (its VIP stays bound for it), by the running ipvsd, whose model does
// not know of the change, nor by a restarted one.
func TestHandChangedServiceLeftAlone(t *testing.T) {
	record := cleanKernel(t)
	ctx := context.Background()
	n := newNode(t, record, reconciler.Config{FullResyncInterval: time.Hour})
	defer func() { n.close() }()
	if _, err := n.rec.Sync(ctx, ownedState()); err != nil {
		t.Fatal(err)
	}
	ipvsadm(t, "-E", "-t", "10.96.0.10:80", "-s", "lc", "-p", "300", "-M", "255.255.255.0")
	changed := ipvsadm(t, "-Ln", "-t", "10.96.0.10:80")
	// An incremental sync: no dump, but the service is read before it
	// would be deleted.
	res, err := n.rec.Sync(ctx, desired.State{})
	if err != nil || res.Full || res.Services.Deleted != 1 {
		t.Fatalf("%s, %v", res.String(), err)
	}
	if got := ipvsadm(t, "-Ln", "-t", "10.96.0.10:80"); got != changed {
		t.Fatalf("the changed service is now\n%s\nwas\n%s", got, changed)
	}
	if strings.Contains(ipvsadm(t, "-Ln"), ":443") {
		t.Fatal("the unchanged service was not deleted")
	}
	if _, ok := n.rec.Owned().Services[ownedState().Services[0].Key]; ok {
		t.Fatal("the changed service is still recorded")
	}
	l, err := n.env.Addresses.ListAddresses()
	addrs := l.OnLink
	if err != nil || !addrs[netip.MustParseAddr("10.96.0.10")] {
		t.Fatalf("its VIP was unbound: %v, %v", addrs, err)
	}
	n.close()
	n = newNode(t, record, reconciler.Config{})
	if res, err := n.rec.Sync(ctx, desired.State{}); err != nil || res.Writes() != 0 {
		t.Fatalf("after a restart: %s, %v", res.String(), err)
	}
	if got := ipvsadm(t, "-Ln", "-t", "10.96.0.10:80"); got != changed {
		t.Fatalf("after a restart the changed service is\n%s\nwas\n%s", got, changed)
	}
}

// TestForgedRecordDeletesNothing: a record naming services another tool
// created with ipvsadm, without parameters or with others than theirs,
// makes a restarted ipvsd delete nothing.
func TestForgedRecordDeletesNothing(t *testing.T) {
	record := cleanKernel(t)
	ipvsadm(t, "-A", "-t", "10.96.0.99:80", "-s", "sh")
	ipvsadm(t, "-a", "-t", "10.96.0.99:80", "-r", "10.100.9.2:80", "-m")
	ipvsadm(t, "-A", "-u", "10.96.0.99:53", "-s", "rr")
	before := ipvsadm(t, "-Ln")
	if err := os.WriteFile(record, []byte(`{"version": 1, "services": [
		{"family": 4, "address": "10.96.0.99", "protocol": "TCP", "port": 80, "owner": "forged"},
		{"family": 4, "address": "10.96.0.99", "protocol": "UDP", "port": 53, "owner": "forged", "scheduler": "wrr", "netmask": 32}
	], "addresses": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, record, reconciler.Config{})
	defer n.close()
	ctx := context.Background()
	for i := range 2 {
		n.rec.RequestFullResync()
		if res, err := n.rec.Sync(ctx, desired.State{}); err != nil || res.Writes() != 0 {
			t.Fatalf("sync %d: %s, %v", i, res.String(), err)
		}
	}
	if got := ipvsadm(t, "-Ln"); got != before {
		t.Fatalf("foreign services changed:\n%s\nwere\n%s", got, before)
	}
	if owned := n.rec.Owned(); len(owned.Services) != 0 {
		t.Fatalf("still recorded: %v", owned.Services)
	}
}

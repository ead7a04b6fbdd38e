package standalone

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// announceConfig has a VIP per case of AnnouncedVIPs, and one VIP (.20)
// shared by a service whose backends are all down and one that is fine.
const announceConfig = `
services:
  - {name: plain, vip: 192.0.2.1, port: 80, backends: [{address: 10.0.0.1}]}
  - name: checked
    vip: 192.0.2.2
    port: 80
    healthCheck: {type: tcp}
    backends: [{address: 10.0.2.1}, {address: 10.0.2.2}]
  - name: quorum
    vip: 192.0.2.3
    port: 80
    healthCheck: {type: tcp}
    quorum: 2
    backends: [{address: 10.0.3.1}, {address: 10.0.3.2}, {address: 10.0.3.3}]
  - name: sorry
    vip: 192.0.2.4
    port: 80
    healthCheck: {type: tcp}
    sorryServer: {address: 10.0.9.9}
    backends: [{address: 10.0.4.1}]
  - {name: drained, vip: 192.0.2.5, port: 80, backends: [{address: 10.0.5.1, weight: 0}]}
  - {name: mark, fwmark: 7, backends: [{address: 10.0.6.1}]}
  - name: shared-down
    vip: 192.0.2.20
    port: 80
    healthCheck: {type: tcp}
    backends: [{address: 10.0.20.1}]
  - {name: shared-up, vip: 192.0.2.20, port: 443, forwarding: nat, backends: [{address: 10.0.21.1}]}
  - {name: v6, vip: "2001:db8::10", port: 80, backends: [{address: "2001:db8:1::1"}]}
`

func TestAnnouncedVIPs(t *testing.T) {
	c, err := config.Parse([]byte(announceConfig))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.20", "2001:db8::10"}
	cases := []struct {
		name      string
		down      []string
		conflicts []ipvs.Key
		want      []string
	}{
		{name: "all healthy (weight 0 and fwmark never)", want: all},
		{name: "one of two backends down", down: []string{"checked/10.0.2.1:80"}, want: all},
		{name: "every backend down", down: []string{"checked/10.0.2.1:80", "checked/10.0.2.2:80"},
			want: without(all, "192.0.2.2")},
		{name: "quorum met", down: []string{"quorum/10.0.3.1:80"}, want: all},
		{name: "below quorum, on the last quorate set", down: []string{"quorum/10.0.3.1:80", "quorum/10.0.3.2:80"},
			want: without(all, "192.0.2.3")},
		{name: "only the sorry server", down: []string{"sorry/10.0.4.1:80"}, want: without(all, "192.0.2.4")},
		{name: "one of a VIP's services down", down: []string{"shared-down/10.0.20.1:80"}, want: all},
		{name: "in conflict", conflicts: []ipvs.Key{c.Services[0].Key()}, want: without(all, "192.0.2.1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conflicts := map[ipvs.Key]bool{}
			for _, k := range tc.conflicts {
				conflicts[k] = true
			}
			var got []string
			for _, a := range AnnouncedVIPs(c, down(tc.down...), conflicts) {
				got = append(got, a.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("announced (-want +got):\n%s", diff)
			}
		})
	}
}

func without(all []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == drop })
}

// TestAnnounceFollowsSyncs: nothing is announced until a sync has
// programmed every service; then every sync says what may be, without a
// service held by another program.
func TestAnnounceFollowsSyncs(t *testing.T) {
	td := newTestDaemon(t, twoServices+"bgp: {asn: 64512, peers: [{address: 10.11.1.1, asn: 64500}]}\n")
	var calls [][]netip.Addr
	td.deps.Announce = func(v []netip.Addr) { calls = append(calls, v) }
	td.kernel.FailNext(ipvstest.OpAddService, apiKey, unix.EBUSY)
	if _, err := td.sync(t.Context()); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("first sync: %v, want EBUSY", err)
	}
	if len(calls) != 0 {
		t.Fatalf("announced %v after a sync that failed", calls)
	}
	td.rec.RequestFullResync() // retries the failed service at once
	td.mustSync(t)
	td.mustSync(t)
	want := [][]netip.Addr{{webKey.Address, apiKey.Address}, {webKey.Address, apiKey.Address}}
	if diff := cmp.Diff(want, calls, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("announcements (-want +got):\n%s", diff)
	}

	td.Conflicts([]ipvs.Key{webKey})
	calls = nil
	if err := td.Programmed(errors.New("a later failure")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]netip.Addr{{apiKey.Address}}, calls, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("announcement with web in conflict, after a failed sync (-want +got):\n%s", diff)
	}

	// Without a bgp: section there is nothing to tell.
	if err := td.ReloadContent("test", []byte(twoServices)); err != nil {
		t.Fatal(err)
	}
	calls = nil
	td.mustSync(t)
	if len(calls) != 0 {
		t.Errorf("announced %v without a bgp: section", calls)
	}
}

// TestReloadedHook: an accepted reload hands its config (bgp: section and
// all) to the hook; a rejected one does not.
func TestReloadedHook(t *testing.T) {
	td := newTestDaemon(t, twoServices)
	td.mustSync(t)
	var got []*config.Config
	td.deps.Reloaded = func(c *config.Config) { got = append(got, c) }
	withBGP := twoServices + "bgp: {asn: 64512, peers: [{address: 10.11.1.1, asn: 64500}]}\n"
	if err := td.ReloadContent("test", []byte(withBGP)); err != nil {
		t.Fatal(err)
	}
	if err := td.ReloadContent("test", []byte(twoServices+"bgp: {asn: 0, peers: []}\n")); err == nil {
		t.Fatal("a bad bgp: section was accepted")
	}
	if len(got) != 1 || got[0].BGP == nil || got[0].BGP.Peers[0].Addr() != netip.MustParseAddr("10.11.1.1") {
		t.Fatalf("Reloaded got %v, want the one accepted config with its bgp: section", got)
	}
	before := td.kernel.Writes()
	td.mustSync(t)
	if w := td.kernel.Writes() - before; w != 0 {
		t.Errorf("a reload adding bgp: wrote %d times to IPVS", w)
	}
}

package standalone

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

const threeServices = twoServices + `
  - name: dns
    vip: 192.0.2.12
    port: 53
    protocol: udp
    backends: [{address: 10.0.2.1}]
`

// TestReloadTranslatesOnlyTheChangedServices: after a reload the next
// partial sync sets the services it added or changed and deletes the ones
// it removed (and the old key of one whose port moved), nothing else.
func TestReloadTranslatesOnlyTheChangedServices(t *testing.T) {
	td := newTestDaemon(t, threeServices)
	ch, err := td.Changes(context.Background(), false)
	if err != nil || ch.Whole == nil || len(ch.Whole.Services) != 3 {
		t.Fatalf("first sync: want the whole config, got %+v, %v", ch, err)
	}
	edited := strings.Replace(threeServices, "{address: 10.0.1.2}", "{address: 10.0.1.2, weight: 5}", 1) // api
	edited = strings.Replace(edited, "port: 53", "port: 5353", 1)                                        // dns moves
	edited = strings.Replace(edited, "  - name: web\n    vip: 192.0.2.10\n    port: 80\n", "  - name: www\n    vip: 192.0.2.10\n    port: 8080\n", 1)
	if err := td.ReloadContent("test", []byte(edited)); err != nil {
		t.Fatal(err)
	}
	ch, err = td.Changes(context.Background(), false)
	if err != nil || ch.Whole != nil {
		t.Fatalf("after the reload: want a partial change, got whole %v, %v", ch.Whole != nil, err)
	}
	var set []string
	for _, vs := range ch.Update.Set {
		set = append(set, vs.Owner+" "+vs.Key.String())
	}
	var deleted []string
	for _, k := range ch.Update.Delete {
		deleted = append(deleted, k.String())
	}
	slices.Sort(deleted)
	dnsOld := ipvs.Key{Family: ipvs.IPv4, Address: mustAddr("192.0.2.12"), Protocol: ipvs.UDP, Port: 53}
	if want := []string{"api " + apiKey.String(), "dns UDP 192.0.2.12:5353", "www TCP 192.0.2.10:8080"}; !slices.Equal(set, want) {
		t.Errorf("set %q, want %q", set, want)
	}
	if want := []string{webKey.String(), dnsOld.String()}; !sameStrings(deleted, want) {
		t.Errorf("deleted %q, want %q", deleted, want)
	}
	// The firewall hears of the changed services alone (web gone, so
	// an empty part).
	if parts := slices.Collect(maps.Keys(ch.Firewall.Parts)); ch.Firewall.Whole || !sameStrings(parts, []string{"api", "dns", "web", "www"}) {
		t.Errorf("firewall update of %q (whole %t), want api, dns, web and www", parts, ch.Firewall.Whole)
	}
	if !ch.Update.SetAddresses || len(ch.Update.Addresses) != 3 {
		t.Errorf("addresses %v (set %v), want the three VIPs", ch.Update.Addresses, ch.Update.SetAddresses)
	}
	// Nothing changed since: an empty update.
	ch, _ = td.Changes(context.Background(), false)
	if ch.Whole != nil || len(ch.Update.Set)+len(ch.Update.Delete) != 0 || ch.Update.SetAddresses || len(ch.Firewall.Parts) != 0 {
		t.Errorf("a sync with nothing changed sent %+v, firewall %+v", ch.Update, ch.Firewall.Parts)
	}
}

// TestPartialSyncsEndWhereAWholeOneDoes: a run of reloads programmed by
// partial syncs leaves the kernel and the firewall as one whole sync of
// the last file does.
func TestPartialSyncsEndWhereAWholeOneDoes(t *testing.T) {
	steps := []string{
		threeServices,
		strings.Replace(threeServices, "port: 53", "port: 5353", 1),
		strings.Replace(threeServices, "    forwarding: dr\n", "", 1),
		twoServices,
		strings.Replace(threeServices, "  - name: web", "  - name: web2", 1),
	}
	td := newTestDaemon(t, steps[0])
	td.mustSync(t)
	for _, content := range steps[1:] {
		if err := td.ReloadContent("test", []byte(content)); err != nil {
			t.Fatal(err)
		}
		td.mustSync(t)
	}
	fresh := newTestDaemon(t, steps[len(steps)-1])
	fresh.mustSync(t)
	got, err := td.kernel.Dump()
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.kernel.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kernel after partial syncs:\n%+v\nafter one whole sync:\n%+v", got, want)
	}
	if g, w := td.fw.Last(), fresh.fw.Last(); !reflect.DeepEqual(g, w) {
		t.Errorf("firewall after partial syncs %+v, after one whole sync %+v", g, w)
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

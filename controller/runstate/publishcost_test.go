package runstate

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvsjson"
)

// wholeFile is the file encoded in one piece, as the store did before it
// kept each virtual server's encoding: what the kept pieces must add up to,
// the newlines aside.
func wholeFile(t *testing.T, want map[ipvs.Key]*desired.VirtualServer) string {
	t.Helper()
	f := desiredFile{Version: desiredVersion, Services: []ipvsjson.Service{}}
	for _, k := range slices.SortedFunc(maps.Keys(want), ipvs.Key.Compare) {
		f.Services = append(f.Services, encodeService(k, want[k]))
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkFile fails unless the file is the whole table encoded at once with
// a service per line (JSON strings hold no raw newline, so removing the
// newlines gives the encoding back).
func checkFile(t *testing.T, step string, want map[ipvs.Key]*desired.VirtualServer, file []byte) {
	t.Helper()
	if diff := cmp.Diff(wholeFile(t, want), strings.ReplaceAll(string(file), "\n", "")); diff != "" {
		t.Errorf("%s: file differs from the whole table encoded at once (-whole +file):\n%s", step, diff)
	}
	if n, wantLines := strings.Count(string(file), "\n"), len(want)+2; n != wantLines {
		t.Errorf("%s: %d lines for %d virtual servers, want %d", step, n, len(want), wantLines)
	}
}

// TestPublishEncodesWhatChanged: a change of one virtual server encodes
// that one only, an unchanged state writes nothing, and the file always
// equals the whole table encoded at once and reads back.
func TestPublishEncodesWhatChanged(t *testing.T) {
	_, vss := v1Fixture()
	want := desiredMap(vss)
	ds := DesiredStore{Path: DesiredPath(t.TempDir() + "/state.json")}
	changedWeb := *want[webKey]
	changedWeb.Destinations = slices.Clone(changedWeb.Destinations)
	changedWeb.Destinations[0].Weight = 9

	for _, step := range []struct {
		name        string
		change      func()
		wantEncodes int
	}{
		{"first write", func() {}, len(vss)},
		{"unchanged", func() {}, 0},
		{"an equal copy", func() { c := *want[dnsKey]; want[dnsKey] = &c }, 0},
		{"one weight", func() { want[webKey] = &changedWeb }, 1},
		{"one deleted", func() { delete(want, sctpKey) }, 0},
		{"none left", func() { clear(want) }, 0},
		{"one back", func() { want[webKey] = &changedWeb }, 1},
	} {
		step.change()
		publishStep(t, &ds, step.name, want, step.wantEncodes)
		got, err := LoadDesired(ds.Path)
		mustDo(t, err)
		if len(got) != len(want) {
			t.Errorf("%s: read back %d virtual servers, want %d", step.name, len(got), len(want))
		}
	}
}

// TestPublishCopiesTheFileItWrote: unchanged lines come from the file
// last written, never from a file that is not that one (replaced, edited),
// and a line too long to copy is encoded again; the file is right in every
// case.
func TestPublishCopiesTheFileItWrote(t *testing.T) {
	want := map[ipvs.Key]*desired.VirtualServer{}
	var keys []ipvs.Key
	for i := range 100 {
		k := ipvs.Key{Family: ipvs.IPv4, Address: netip.AddrFrom4([4]byte{10, 96, byte(i / 250), byte(i%250 + 1)}), Protocol: ipvs.TCP, Port: 80}
		vs := &desired.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: "rr"}, Owner: fmt.Sprintf("prof/s%05d:http", i)}
		n := 10
		if i == 50 {
			n = 2000 // a line of some 120 kB, beyond the reader's 64 kB buffer
		}
		for j := range n {
			vs.Destinations = append(vs.Destinations, ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, byte(64 + j/250), byte(j % 250), byte(i + 1)}), Port: 8080}, Weight: 1})
		}
		want[k] = vs
		keys = append(keys, k)
	}
	ds := DesiredStore{Path: DesiredPath(t.TempDir() + "/state.json")}
	reweigh := func(i int) {
		vs := *want[keys[i]]
		vs.Destinations = slices.Clone(vs.Destinations)
		vs.Destinations[0].Weight++
		want[keys[i]] = &vs
	}
	for _, step := range []struct {
		name        string
		change      func()
		wantEncodes int
	}{
		{"first write", func() {}, 100},
		{"one weight: copied but for it and the long line", func() { reweigh(3) }, 2},
		{"the long line's own weight", func() { reweigh(50) }, 1},
		{"replaced by a copy: encoded whole", func() {
			b, err := os.ReadFile(ds.Path)
			mustDo(t, err)
			mustDo(t, os.Remove(ds.Path))
			mustDo(t, os.WriteFile(ds.Path, b, 0o600))
			reweigh(3)
		}, 100},
		{"cut short by hand: encoded whole", func() {
			b, err := os.ReadFile(ds.Path)
			mustDo(t, err)
			mustDo(t, os.WriteFile(ds.Path, b[:len(b)/2], 0o600))
			reweigh(4)
		}, 100},
		{"the first and last removed, one added", func() {
			delete(want, keys[0])
			delete(want, keys[99])
			k := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.200"), Protocol: ipvs.UDP, Port: 53}
			want[k] = &desired.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: "rr"}, Owner: "added"}
		}, 2},
	} {
		step.change()
		publishStep(t, &ds, step.name, want, step.wantEncodes)
	}
}

// publishStep publishes want and checks that it encoded wantEncodes
// virtual servers and that the file is the whole table.
func publishStep(t *testing.T, ds *DesiredStore, step string, want map[ipvs.Key]*desired.VirtualServer, wantEncodes int) {
	t.Helper()
	before := ds.encodes
	mustDo(t, ds.Publish(want))
	if n := ds.encodes - before; n != wantEncodes {
		t.Errorf("%s: %d virtual servers encoded, want %d", step, n, wantEncodes)
	}
	b, err := os.ReadFile(ds.Path)
	mustDo(t, err)
	checkFile(t, step, want, b)
}

// BenchmarkPublishOneChange10000: one real server's weight changed in a
// table of 10,000 virtual servers x 10, published: one encoding and the
// file written out.
func BenchmarkPublishOneChange10000(b *testing.B) {
	want := map[ipvs.Key]*desired.VirtualServer{}
	var first ipvs.Key
	for i := range 10000 {
		k := ipvs.Key{Family: ipvs.IPv4, Address: netip.AddrFrom4([4]byte{10, 96, byte(i / 250), byte(i%250 + 1)}), Protocol: ipvs.TCP, Port: 80}
		vs := &desired.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: "rr"}, Owner: fmt.Sprintf("bench/s%05d:http", i)}
		for j := range 10 {
			vs.Destinations = append(vs.Destinations, ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, byte(64 + j), byte(i / 250), byte(i%250 + 1)}), Port: 8080}, Weight: 1})
		}
		want[k] = vs
		if i == 0 {
			first = k
		}
	}
	ds := DesiredStore{Path: DesiredPath(b.TempDir() + "/desired.json")}
	if err := ds.Publish(want); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		vs := *want[first]
		vs.Destinations = slices.Clone(vs.Destinations)
		vs.Destinations[0].Weight = i%100 + 2
		want[first] = &vs
		if err := ds.Publish(want); err != nil {
			b.Fatal(err)
		}
	}
}

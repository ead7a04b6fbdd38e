package runstate

import (
	"encoding/json"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvsjson"
)

// The keys of v1Fixture: every kind of key a record holds.
var (
	webKey  = ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: ipvs.TCP, Port: 80}
	dnsKey  = ipvs.Key{Family: ipvs.IPv6, Address: netip.MustParseAddr("2001:db8::1"), Protocol: ipvs.UDP, Port: 53}
	sctpKey = ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.2"), Protocol: ipvs.SCTP, Port: 3868}
	mark4   = ipvs.Key{Family: ipvs.IPv4, FWMark: 7}
	mark6   = ipvs.Key{Family: ipvs.IPv6, FWMark: 9}
)

func realServer(ap string, w int, fwd ipvs.Forwarding) ipvs.Destination {
	a := netip.MustParseAddrPort(ap)
	return ipvs.Destination{DestKey: ipvs.DestKey{Address: a.Addr(), Port: a.Port()}, Weight: w, Forwarding: fwd}
}

// v1Fixture is the record and the desired state that the version-1
// encoder (ipvsd before the shared JSON shape) wrote to
// testdata/state-v1.json and testdata/desired-v1.json. Those files are
// never regenerated: they stand for what an upgraded daemon finds in
// /run/ipvsd.
func v1Fixture() (Record, []desired.VirtualServer) {
	rec := NewRecord()
	for k, o := range map[ipvs.Key]string{webKey: "web", dnsKey: "kube-system/kube-dns:dns", sctpKey: "", mark4: "marked", mark6: "ns/svc:x"} {
		rec.Services[k] = o
	}
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"} {
		rec.Addresses[netip.MustParseAddr(a)] = true
	}
	limited := realServer("10.0.0.2:8080", 3, ipvs.Masquerade)
	limited.UpperThreshold, limited.LowerThreshold = 100, 10
	vss := []desired.VirtualServer{
		{Owner: "web", Service: ipvs.Service{Key: webKey, Scheduler: "rr", Timeout: 300, Netmask: 24},
			Destinations: []ipvs.Destination{limited, realServer("10.0.0.1:8080", 1, ipvs.Masquerade), realServer("10.0.1.1:80", 0, ipvs.DirectRoute)}},
		{Owner: "kube-system/kube-dns:dns", Service: ipvs.Service{Key: dnsKey, Scheduler: "wrr", Flags: ipvs.FlagOnePacket},
			Destinations: []ipvs.Destination{realServer("[2001:db8::10]:53", 1, ipvs.Masquerade), realServer("192.0.2.50:53", 2, ipvs.Tunnel)}},
		{Service: ipvs.Service{Key: sctpKey, Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagSHPort, Timeout: 60, PEName: "sip"},
			Destinations: []ipvs.Destination{realServer("127.0.0.1:3868", 1, ipvs.Local)}},
		{Owner: "marked", Service: ipvs.Service{Key: mark4, Scheduler: "mh", Flags: ipvs.FlagMHPort}, Destinations: []ipvs.Destination{}},
		{Owner: "ns/svc:x", Service: ipvs.Service{Key: mark6, Scheduler: "wlc"}},
	}
	// What a reconciler publishes is normalized: real servers sorted, the
	// persistent flag and netmask spelled out.
	for i := range vss {
		vss[i] = vss[i].Normalize()
	}
	slices.SortFunc(vss, func(a, b desired.VirtualServer) int { return a.Key.Compare(b.Key) })
	return rec, vss
}

// desiredMap is vss as a reconciler hands them to Publish.
func desiredMap(vss []desired.VirtualServer) map[ipvs.Key]*desired.VirtualServer {
	m := map[ipvs.Key]*desired.VirtualServer{}
	for i := range vss {
		m[vss[i].Key] = &vss[i]
	}
	return m
}

var equateAddrs = cmpopts.EquateComparable(netip.Addr{})

// TestReadsVersion1: a daemon upgraded in place adopts its services from
// the files its predecessor wrote, and `ipvsd list` reads them too.
func TestReadsVersion1(t *testing.T) {
	wantRec, wantVSS := v1Fixture()
	rec, err := LoadRecord(filepath.Join("testdata", "state-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Equal(wantRec) {
		t.Errorf("record: got %v %v, want %v %v", rec.Services, slices.Collect(maps.Keys(rec.Addresses)), wantRec.Services, slices.Collect(maps.Keys(wantRec.Addresses)))
	}
	vss, err := LoadDesired(filepath.Join("testdata", "desired-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantVSS, vss, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("desired state (-want +got):\n%s", diff)
	}
}

// TestRoundTrip: what this binary writes, it reads back.
func TestRoundTrip(t *testing.T) {
	wantRec, wantVSS := v1Fixture()
	dir := t.TempDir()
	rs := OwnershipStore{Path: filepath.Join(dir, "state.json")}
	if err := rs.Save(wantRec); err != nil {
		t.Fatal(err)
	}
	if rec, err := LoadRecord(rs.Path); err != nil || !rec.Equal(wantRec) {
		t.Errorf("record: got %v, %v; want %v", rec, err, wantRec)
	}
	// The record keeps its first spelling, byte for byte.
	got, err := os.ReadFile(rs.Path)
	if err != nil {
		t.Fatal(err)
	}
	if v1, err := os.ReadFile(filepath.Join("testdata", "state-v1.json")); err != nil || string(got) != string(v1) {
		t.Errorf("record written as:\n%s\nwant testdata/state-v1.json (%v)", got, err)
	}
	ds := DesiredStore{Path: DesiredPath(rs.Path)}
	if err := ds.Publish(desiredMap(wantVSS)); err != nil {
		t.Fatal(err)
	}
	vss, err := LoadDesired(ds.Path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantVSS, vss, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("desired state (-want +got):\n%s", diff)
	}
}

// TestRejects pins what a damaged file is told with: the whole file for a
// record, each bad entry for a desired state.
func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		name, record, desired, want string
	}{
		{name: "record version", record: `{"version": 2, "services": [], "addresses": []}`, want: "unsupported version 2"},
		{name: "record protocol", record: `{"version": 1, "services": [{"family": 4, "address": "192.0.2.1", "protocol": "ICMP", "port": 1}], "addresses": []}`,
			want: `unknown protocol "ICMP" (want tcp, udp or sctp)`},
		{name: "record syntax", record: `{"version": 1, "services": [{"family": "IPv5"}]}`, want: "family"},
		{name: "desired version", desired: `{"version": 0, "services": []}`, want: "unsupported version 0"},
		{name: "desired entries", desired: `{"version": 1, "services": [
			{"family": 4, "address": "192.0.2.1", "protocol": "ICMP", "scheduler": "rr", "destinations": []},
			{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": 80, "scheduler": "rr", "flags": ["persistent", "sticky"],
			 "destinations": [{"address": "10.0.0.1", "port": 80, "weight": 1, "forwarding": "carrier-pigeon"}]}]}`,
			want: `unknown protocol "ICMP" (want tcp, udp or sctp)` + "\n" +
				`virtual server TCP 192.0.2.1:80: unknown flag "sticky"` + "\n" +
				`virtual server TCP 192.0.2.1:80: real server 10.0.0.1: unknown forwarding method "carrier-pigeon" (want nat, dr or tun)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.record != "" {
				_, err = unmarshalRecord([]byte(tc.record))
			} else {
				_, err = unmarshalDesired([]byte(tc.desired))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRecordReadsSharedSpelling: the record is written as version 1 spelt
// it, but read in the shared shape too, so that a later ipvsd may write
// that without stranding this one.
func TestRecordReadsSharedSpelling(t *testing.T) {
	want, _ := v1Fixture()
	// The shared shape, as ipvsjson writes it.
	var f struct {
		Version   int                `json:"version"`
		Services  []ipvsjson.Service `json:"services"`
		Addresses []netip.Addr       `json:"addresses"`
	}
	f.Version, f.Addresses = recordVersion, slices.Collect(maps.Keys(want.Addresses))
	for k, o := range want.Services {
		f.Services = append(f.Services, ipvsjson.Service{Key: ipvsjson.FromKey(k), Owner: o})
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"family":"IPv6"`) {
		t.Fatalf("not the shared spelling: %s", b)
	}
	if got, err := unmarshalRecord(b); err != nil || !got.Equal(want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
}

package ipvsjson

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/ipvs"
)

func TestFamily(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ipvs.Family
		err  string
	}{
		{in: `"IPv4"`, want: ipvs.IPv4},
		{in: `"IPv6"`, want: ipvs.IPv6},
		// Version-1 files under /run/ipvsd wrote the number.
		{in: `4`, want: ipvs.IPv4},
		{in: `6`, want: ipvs.IPv6},
		{in: `"ipv6"`, err: `unknown family "ipv6"`},
		{in: `true`, err: "family true"},
		{in: `300`, err: "family 300"},
	} {
		var f Family
		err := json.Unmarshal([]byte(tc.in), &f)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, %v; want an error with %q", tc.in, ipvs.Family(f), err, tc.err)
			}
			continue
		}
		if err != nil || ipvs.Family(f) != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.in, ipvs.Family(f), err, tc.want)
		}
		if b, err := json.Marshal(f); err != nil || string(b) != `"`+tc.want.String()+`"` {
			t.Errorf("%s written as %s, %v", tc.in, b, err)
		}
	}
}

// TestRoundTrip: what From* make of a virtual server, IPVS turns back
// into it (counters aside: they are only ever written).
func TestRoundTrip(t *testing.T) {
	addr := netip.MustParseAddr
	for _, s := range []ipvs.Service{
		{Key: ipvs.Key{Family: ipvs.IPv4, Address: addr("192.0.2.1"), Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr",
			Flags: ipvs.FlagPersistent | ipvs.FlagOnePacket, Timeout: 300, Netmask: 24, PEName: "sip"},
		{Key: ipvs.Key{Family: ipvs.IPv6, Address: addr("2001:db8::1"), Protocol: ipvs.SCTP, Port: 3868}, Scheduler: "mh", Flags: ipvs.FlagMHPort},
		{Key: ipvs.Key{Family: ipvs.IPv6, FWMark: 9}, Scheduler: "wlc"},
	} {
		var back Service
		b, err := json.Marshal(FromService(s))
		if err == nil {
			err = json.Unmarshal(b, &back)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.Key, err)
		}
		k, err := back.Key.IPVS()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		got, err := back.Scheduling.IPVS(k)
		if diff := cmp.Diff(s, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" || err != nil {
			t.Errorf("%s (%v), -want +got:\n%s", b, err, diff)
		}
	}
	for _, fwd := range []ipvs.Forwarding{ipvs.Masquerade, ipvs.Local, ipvs.Tunnel, ipvs.DirectRoute} {
		d := ipvs.Destination{DestKey: ipvs.DestKey{Address: addr("10.0.0.1"), Port: 8080}, Weight: 3, Forwarding: fwd, UpperThreshold: 9, LowerThreshold: 1}
		counted := ipvs.DestinationState{Destination: d, Stats: &ipvs.Stats{Conns: 5}}
		counted.ActiveConns = 4
		j := FromDestination(counted.Destination)
		j.Conns = FromConns(counted)
		var back Destination
		b, err := json.Marshal(j)
		if err == nil {
			err = json.Unmarshal(b, &back)
		}
		if err != nil {
			t.Fatalf("%s: %v", fwd, err)
		}
		if back.Conns == nil || back.ActiveConns != 4 || back.Stats.Conns != 5 {
			t.Errorf("%s: counters lost: %s", fwd, b)
		}
		if got, err := back.IPVS(); got != d || err != nil {
			t.Errorf("%s: got %+v, %v; want %+v", b, got, err, d)
		}
	}
}

// TestAbsentParts: what a document does not set, it does not write.
func TestAbsentParts(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"key and owner", Service{Key: FromKey(ipvs.Key{Family: ipvs.IPv4, FWMark: 7}), Owner: "web"},
			`{"family":"IPv4","fwmark":7,"owner":"web"}`},
		{"no real servers", Service{Key: FromKey(ipvs.Key{Family: ipvs.IPv6, FWMark: 7}), Scheduling: &Scheduling{Scheduler: "rr"}, Destinations: []Destination{}},
			`{"family":"IPv6","fwmark":7,"scheduler":"rr","destinations":[]}`},
		{"real server without counters", FromDestination(ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.0.0.1"), Port: 80}, Weight: 1}),
			`{"address":"10.0.0.1","port":80,"forwarding":"Masq","weight":1,"upperThreshold":0,"lowerThreshold":0}`},
	} {
		if b, err := json.Marshal(tc.v); err != nil || string(b) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, b, err, tc.want)
		}
	}
}

func TestBadNames(t *testing.T) {
	if _, err := (Key{Family: Family(ipvs.IPv4), Protocol: "ICMP", Address: netip.MustParseAddr("192.0.2.1")}).IPVS(); err == nil {
		t.Error("protocol ICMP accepted")
	}
	k := ipvs.Key{Family: ipvs.IPv4, FWMark: 1}
	s, err := Scheduling{Scheduler: "rr", Flags: []string{"ops", "sticky", "fast"}}.IPVS(k)
	if s.Flags != ipvs.FlagOnePacket || err == nil || err.Error() != "virtual server FWM 1: unknown flag \"sticky\"\nvirtual server FWM 1: unknown flag \"fast\"" {
		t.Errorf("got %v, %v; want ops and two errors", s.Flags, err)
	}
	if _, err := (Destination{Forwarding: "carrier-pigeon"}).IPVS(); err == nil {
		t.Error("forwarding carrier-pigeon accepted")
	}
}

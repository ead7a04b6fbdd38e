package runstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

// writeRecord puts text where a record is loaded from, as a hand or a
// program other than ipvsd would: not through Save.
func writeRecord(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// entries is a version-1 record with the given service entries and
// addresses (JSON list bodies).
func entries(services, addresses string) string {
	return `{"version": 1, "services": [` + services + `], "addresses": [` + addresses + `]}`
}

const goodEntry = `{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": 80, "owner": "web"}`

// TestLoadRejectsBadRecords: a record ipvsd cannot have written is refused
// whole, and the error names the file and every bad entry. Today's loader
// accepted all of these but the first two.
func TestLoadRejectsBadRecords(t *testing.T) {
	for _, tc := range badRecords {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRecord(t, tc.record)
			rec, err := LoadRecord(path)
			if err == nil {
				t.Fatalf("loaded %+v", rec)
			}
			msg := err.Error()
			for _, want := range append([]string{"ownership record " + path + " is not one ipvsd wrote: "}, tc.want...) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q\nwants %q", msg, want)
				}
			}
		})
	}
}

// badRecords are records ipvsd cannot have written, one kind of fault
// each, with what the error must say. The fuzz target starts from them.
var badRecords = []struct {
	name, record string
	want         []string // each must be in the error
}{
	{name: "version", record: `{"version": 2, "services": [], "addresses": []}`,
		want: []string{"unsupported version 2 (this ipvsd reads version 1)"}},
	{name: "no version", record: `{"services": [], "addresses": []}`, want: []string{"unsupported version 0"}},
	{name: "family of another address", record: entries(`{"family": 6, "address": "192.0.2.1", "protocol": "TCP", "port": 80}`, ``),
		want: []string{"services[0] (TCP 192.0.2.1:80 family 6): address 192.0.2.1 is not IPv6"}},
	{name: "family IPv4 for IPv6", record: entries(`{"family": "IPv4", "address": "2001:db8::1", "protocol": "UDP", "port": 53}`, ``),
		want: []string{"services[0] (UDP [2001:db8::1]:53 family 4): address 2001:db8::1 is not IPv4"}},
	{name: "unknown family", record: entries(`{"family": 5, "address": "192.0.2.1", "protocol": "TCP", "port": 80}`, ``),
		want: []string{"services[0] (TCP 192.0.2.1:80 family 5): unknown family 5 (want 4 or 6)"}},
	{name: "0.0.0.0", record: entries(`{"family": 4, "address": "0.0.0.0", "protocol": "TCP", "port": 80}`, ``),
		want: []string{"services[0] (TCP 0.0.0.0:80 family 4): unspecified address 0.0.0.0"}},
	{name: "::", record: entries(goodEntry+`, {"family": 6, "address": "::", "protocol": "TCP", "port": 80}`, ``),
		want: []string{"services[1] (TCP [::]:80 family 6): unspecified address ::"}},
	{name: "mapped address", record: entries(`{"family": 4, "address": "::ffff:192.0.2.1", "protocol": "TCP", "port": 80}`, ``),
		want: []string{"IPv4-mapped address ::ffff:192.0.2.1 (ipvsd writes 192.0.2.1)"}},
	{name: "zone", record: entries(`{"family": 6, "address": "fe80::1%eth0", "protocol": "TCP", "port": 80}`, ``),
		want: []string{"address fe80::1%eth0 has a zone"}},
	{name: "neither address nor mark", record: entries(`{"family": 4, "protocol": "TCP", "port": 80}`, ``),
		want: []string{"services[0] (TCP invalid AddrPort family 4): no address"}},
	{name: "protocol", record: entries(`{"family": 4, "address": "192.0.2.1", "protocol": "ICMP", "port": 1}`, ``),
		want: []string{`services[0] (ICMP 192.0.2.1:1 family 4): unknown protocol "ICMP" (want tcp, udp or sctp)`}},
	{name: "no protocol", record: entries(`{"family": 4, "address": "192.0.2.1", "port": 80}`, ``),
		want: []string{`unknown protocol ""`}},
	{name: "port too large", record: entries(`{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": 65536}`, ``),
		want: []string{"services[0]: json: cannot unmarshal number 65536", "port of type uint16"}},
	{name: "negative port", record: entries(`{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": -1}`, ``),
		want: []string{"services[0]: json: cannot unmarshal number -1", "port of type uint16"}},
	{name: "every type error", record: entries(`{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": "80"}, {"family": 4, "fwmark": "7"}`, ``),
		want: []string{"services[0]: json: cannot unmarshal string", "port of type uint16", "services[1]: json: cannot unmarshal string", "fwmark of type uint32"}},
	{name: "port of a mark", record: entries(`{"family": 4, "fwmark": 7, "port": 80}`, ``),
		want: []string{"services[0] (FWM 7 family 4): a firewall-mark service has no address, protocol or port"}},
	{name: "protocol of a mark", record: entries(`{"family": 4, "fwmark": 7, "protocol": "TCP"}`, ``),
		want: []string{"services[0] (FWM 7 family 4): a firewall-mark service has no protocol"}},
	{name: "address of a mark", record: entries(`{"family": 6, "fwmark": 7, "address": "2001:db8::1"}`, ``),
		want: []string{"a firewall-mark service has no address, protocol or port"}},
	{name: "negative mark", record: entries(`{"family": 4, "fwmark": -7}`, ``), want: []string{"services[0]: json: cannot unmarshal number -7", "fwmark of type uint32"}},
	{name: "unknown key in an entry", record: entries(`{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": 80, "sticky": true}`, ``),
		want: []string{`services[0]: unknown field "sticky"`}},
	{name: "real servers in an entry", record: entries(`{"family": 4, "fwmark": 7, "destinations": []}`, ``),
		want: []string{`services[0]: unknown field "destinations"`}},
	{name: "unknown key at the top", record: `{"version": 1, "services": [], "addresses": [], "foreign": []}`,
		want: []string{`unknown field "foreign"`}},
	{name: "key in another case", record: `{"version": 1, "Services": [` + goodEntry + `], "addresses": []}`,
		want: []string{`unknown field "Services"`}},
	{name: "key twice", record: `{"version": 1, "services": [], "services": [` + goodEntry + `], "addresses": []}`,
		want: []string{`duplicate field "services"`}},
	{name: "entry twice", record: entries(goodEntry+`, {"family": "IPv4", "address": "192.0.2.1", "protocol": "tcp", "port": 80, "owner": "other"}`, ``),
		want: []string{"services[1] (TCP 192.0.2.1:80): the same virtual server as services[0]"}},
	{name: "mark twice", record: entries(`{"family": 6, "fwmark": 9}, {"family": 6, "fwmark": 9}`, ``),
		want: []string{"services[1] (FWM 9 IPv6): the same virtual server as services[0]"}},
	{name: "bad addresses", record: entries(goodEntry, `"192.0.2.1", "0.0.0.0", "192.0.2.1", "::"`),
		want: []string{"addresses[1] (0.0.0.0): unspecified address 0.0.0.0", "addresses[2] (192.0.2.1): listed twice", "addresses[3] (::): unspecified address ::"}},
	{name: "every bad entry", record: entries(`{"family": 4, "address": "0.0.0.0", "protocol": "TCP", "port": 80}, `+goodEntry+`, {"family": 6, "address": "192.0.2.9", "protocol": "UDP", "port": 53}`, ``),
		want: []string{"services[0] (TCP 0.0.0.0:80 family 4)", "services[2] (UDP 192.0.2.9:53 family 6)"}},
	{name: "no scheduler", record: entries(`{"family": 4, "fwmark": 7, "flags": ["persistent"]}`, ``),
		want: []string{`services[0] (FWM 7 family 4): scheduler "" is not a scheduler name`}},
	{name: "scheduler name", record: entries(`{"family": 4, "fwmark": 7, "scheduler": "rr; rm -rf /"}`, ``),
		want: []string{`scheduler "rr; rm -rf /" is not a scheduler name`}},
	{name: "unknown flag", record: entries(`{"family": 4, "fwmark": 7, "scheduler": "rr", "flags": ["sticky"]}`, ``),
		want: []string{`services[0] (FWM 7 family 4): virtual server FWM 7: unknown flag "sticky"`}},
	{name: "netmask", record: entries(`{"family": 4, "fwmark": 7, "scheduler": "rr", "timeout": 60, "netmask": 33}`, ``),
		want: []string{"netmask /33 is too long for IPv4"}},
	{name: "engine name", record: entries(`{"family": 4, "fwmark": 7, "scheduler": "rr", "pe": "a-persistence-engine"}`, ``),
		want: []string{`persistence engine "a-persistence-engine" is not an engine name`}},
	{name: "second document", record: entries(goodEntry, ``) + entries(``, ``), want: []string{"after top-level value"}},
	{name: "empty", record: ``, want: []string{"unexpected end of JSON input"}},
	{name: "null", record: `null`, want: []string{"unsupported version 0"}},
}

// paramsFixture is v1Fixture's record with the parameters ipvsd wrote
// for two of its services, as testdata/state-v1-params.json holds it.
func paramsFixture() Record {
	rec, _ := v1Fixture()
	rec.Config[webKey] = ipvs.Service{Key: webKey, Scheduler: "rr", Timeout: 300, Netmask: 24}.Canonical()
	rec.Config[mark6] = ipvs.Service{Key: mark6, Scheduler: "mh", Flags: ipvs.FlagMHPort, PEName: "sip"}.Canonical()
	return rec
}

// TestRecordKeepsParameters: the parameters ipvsd wrote are saved with
// each service, in the shared shape's spelling, and loaded back canonical.
// testdata/state-v1-params.json is what this encoder wrote; it is never
// regenerated, so that later versions keep reading it.
func TestRecordKeepsParameters(t *testing.T) {
	rec := paramsFixture()
	s := OwnershipStore{Path: filepath.Join(t.TempDir(), "state.json")}
	if err := s.Save(rec); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{s.Path, filepath.Join("testdata", "state-v1-params.json")} {
		got, err := LoadRecord(path)
		if err != nil || !got.Equal(rec) {
			t.Errorf("%s: got %v, %v; want %v", path, got.Config, err, rec.Config)
		}
	}
	got, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if want, err := os.ReadFile(filepath.Join("testdata", "state-v1-params.json")); err != nil || string(got) != string(want) {
		t.Errorf("record written as:\n%s\nwant testdata/state-v1-params.json (%v)", got, err)
	}
}

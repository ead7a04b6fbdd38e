package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

func renderSets(sets []Set) string {
	var b strings.Builder
	for _, s := range sets {
		opts := ""
		if s.SkbInfo {
			opts = " skbinfo"
		}
		fmt.Fprintf(&b, "%s %s %s%s\n", s.Name, s.Type, s.Family, opts)
		for _, e := range s.Entries {
			b.WriteString("  " + e.String() + e.Extensions() + "\n")
		}
	}
	return b.String()
}

func TestDesiredSetsGolden(t *testing.T) {
	d := sample()
	// Duplicates collapse.
	d.Services = append(d.Services, d.Services[0])
	checkGolden(t, "sets-v4.golden", renderSets(DesiredSets(&d, ipvs.IPv4)))
	checkGolden(t, "sets-v6.golden", renderSets(DesiredSets(&d, ipvs.IPv6)))
}

func TestSetNamesFitTheKernel(t *testing.T) {
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		for _, s := range SetSpecs(f) {
			// IPSET_MAXNAMELEN is 32 including the NUL.
			if len(s.Name) > 31 || !strings.HasPrefix(s.Name, SetPrefix) {
				t.Errorf("bad set name %q", s.Name)
			}
		}
	}
}

func TestPlanSets(t *testing.T) {
	d := sample()
	desired := DesiredSets(&d, ipvs.IPv4)
	fromEmpty, err := planSets(desired, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromEmpty.Create) != len(SetSpecs(ipvs.IPv4)) || len(fromEmpty.Del) != 0 {
		t.Fatalf("from empty: %+v", fromEmpty)
	}
	script := fromEmpty.script()
	for _, want := range []string{
		"create ipvsd-vs-fwmark-v4 hash:ip,port family inet maxelem 1048576 skbinfo\n",
		"add ipvsd-vs-fwmark-v4 192.0.2.10,tcp:443 skbmark 0x1001/0xbfff\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("from empty: script lacks %q:\n%s", want, script)
		}
	}
	// What the kernel would print after applying it.
	var save strings.Builder
	for _, s := range desired {
		opts := ""
		if s.SkbInfo {
			opts = " skbinfo"
		}
		fmt.Fprintf(&save, "create %s %s family inet hashsize 1024 maxelem %d%s bucketsize 12 initval 0x1\n", s.Name, s.Type, setMaxElem, opts)
		for _, e := range s.Entries {
			fmt.Fprintf(&save, "add %s %s%s\n", s.Name, e, e.Extensions())
		}
	}
	actual, err := parseIPSetSave(save.String())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := planSets(desired, actual); !p.empty() {
		t.Fatalf("in sync, planned %+v", p)
	}
	// One service removed, one added, one's local endpoints gone and
	// another's mark moved: a handful of entries, the last two
	// overwritten in place (no del: a del would briefly unmark them).
	d.Services = d.Services[1:]
	d.Services = append(d.Services, VirtualServer{Key: key("10.96.0.99", ipvs.TCP, 8443), Kind: ClusterIP})
	for i := range d.Services {
		switch d.Services[i].LocalFWMark {
		case 0x1001:
			d.Services[i].HasLocalEndpoints = false
		case 0x2abc:
			d.Services[i].LocalFWMark, d.Services[i].HasLocalEndpoints = 0x2abd, true
		}
	}
	p, err := planSets(DesiredSets(&d, ipvs.IPv4), actual)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "plan-one-service.golden", p.script())

	actual[SetName(roleVS, ipvs.IPv4)].Type = HashIP
	if _, err := planSets(desired, actual); err == nil || !strings.Contains(err.Error(), "ipvsd-vs-v4") {
		t.Errorf("type mismatch: got %v", err)
	}
	actual[SetName(roleVS, ipvs.IPv4)].Type = HashIPPort
	actual[SetName(roleVSFWMark, ipvs.IPv4)].SkbInfo = false
	if _, err := planSets(desired, actual); err == nil || !strings.Contains(err.Error(), "ipvsd-vs-fwmark-v4 exists as hash:ip,port IPv4, want hash:ip,port IPv4 skbinfo") {
		t.Errorf("skbinfo mismatch: got %v", err)
	}
}

func TestValidate(t *testing.T) {
	d := sample()
	d.Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	d.Services[0].Key.Port = 0
	d.Services[1].SourceRanges = prefixes("10.0.0.0/8")
	d.Services[0].LocalFWMark = 0x1001 // a ClusterIP
	d.Services[3].LocalFWMark = 0x4001 // the masquerade bit
	d.DropBit = d.MasqueradeBit
	err := d.Validate()
	for _, want := range []string{"port 0", "load-balancer IPs only", "both 14",
		"needs a local-only external address", "mark 0x4001 outside the local mark mask 0x3fff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestLocalMarkMask(t *testing.T) {
	for _, tc := range []struct {
		masq, drop uint
		mask       uint32
		want       uint32
		err        string
	}{
		{want: 0x3fff},
		{masq: 20, drop: 21, want: 0xfffff},
		{masq: 5, drop: 2, want: 0x3},
		{masq: 14, drop: 15, mask: 0x0ff0, want: 0x0ff0},
		{masq: 14, drop: 15, mask: 0xc000, want: 0xc000, err: "holds the masquerade or drop bit"},
	} {
		d := Desired{MasqueradeBit: tc.masq, DropBit: tc.drop, LocalMarkMask: tc.mask}
		d.Defaults()
		err := d.Validate()
		if d.LocalMarkMask != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("bits %d/%d, mask %#x: got mask %#x, %v; want %#x, %q", tc.masq, tc.drop, tc.mask, d.LocalMarkMask, err, tc.want, tc.err)
		}
	}
}

// A mark can only change by an overwriting add, and the kernel's own
// listing of such an entry parses back to what we would print.
func TestParseIPSetSaveExtensions(t *testing.T) {
	sets, err := parseIPSetSave("create ipvsd-vs-fwmark-v4 hash:ip,port family inet hashsize 1024 maxelem 1048576 skbinfo bucketsize 12 initval 0x5\n" +
		"add ipvsd-vs-fwmark-v4 192.0.2.10,tcp:443 skbmark 0x1001/0xbfff\n")
	if err != nil {
		t.Fatal(err)
	}
	s := sets["ipvsd-vs-fwmark-v4"]
	e := Entry{IP: netip.MustParseAddr("192.0.2.10"), Protocol: ipvs.TCP, Port: 443, Mark: 0x1001, MarkMask: 0xbfff}
	if !s.SkbInfo || s.Entries[e.String()] != e.Extensions() {
		t.Errorf("parsed %+v; want skbinfo and %q -> %q", s, e.String(), e.Extensions())
	}
}

package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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

// fieldsParse is parseIPSetSave as it was before it stopped allocating
// per line, by strings.Fields: the reference for TestParseIPSetSaveShapes.
func fieldsParse(text string) map[string]*actualSet {
	sets := map[string]*actualSet{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "create":
			s := &actualSet{Type: SetType(f[2]), Family: ipvs.IPv4, Entries: map[string]string{}}
			for j := 3; j < len(f); j++ {
				if f[j] == "family" && j+1 < len(f) && f[j+1] == "inet6" {
					s.Family = ipvs.IPv6
				}
				s.SkbInfo = s.SkbInfo || f[j] == "skbinfo"
			}
			sets[f[1]] = s
		case len(f) >= 3 && f[0] == "add" && sets[f[1]] != nil:
			ext := ""
			if len(f) > 3 {
				ext = " " + strings.Join(f[3:], " ")
			}
			sets[f[1]].Entries[f[2]] = ext
		}
	}
	return sets
}

// The parser reads fields in place; whatever the spacing, it reads what a
// split into fields reads.
func TestParseIPSetSaveShapes(t *testing.T) {
	for _, text := range []string{
		"",
		"\n\n",
		"create a hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\nadd a 10.0.0.1\nadd a 10.0.0.2\n",
		"create a hash:ip,port family inet6 skbinfo\nadd a fd00::1,tcp:80 skbmark 0x1/0x3fff",
		"create b hash:ip family inet comment\nadd b 10.0.0.1 comment \"inet6\"\n",
		"create c hash:ip,port family  inet6\r\nadd  c\t10.0.0.1,udp:53   skbmark\t0x2/0x3fff  \r\n",
		"  create d hash:net family inet\nadd d 10.0.0.0/8 \nadd d\n",
		"create e hash:ip inet6 family\nadd e 10.0.0.1 timeout 0\n",
	} {
		got, err := parseIPSetSave(text)
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if diff := cmp.Diff(fieldsParse(text), got); diff != "" {
			t.Errorf("%q: parsed (-by fields +in place):\n%s", text, diff)
		}
	}
	if _, err := parseIPSetSave("create a hash:ip\n\nadd b 10.0.0.1\n"); err == nil || !strings.Contains(err.Error(), "line 3: entry for undeclared set b") {
		t.Errorf("entry of an undeclared set: got %v", err)
	}
}

// A set in sync is compared without a string per entry; entries the
// kernel has beyond the desired ones are still found, also when the
// desired entries break Set's order (so counting them would not tell).
func TestPlanEntries(t *testing.T) {
	e := func(last byte, mark uint32) Entry {
		return Entry{IP: netip.AddrFrom4([4]byte{10, 0, 0, last}), Protocol: ipvs.TCP, Port: 80, Mark: mark, MarkMask: 0x3fff}
	}
	saved := func(es ...Entry) *actualSet {
		a := &actualSet{Type: HashIPPort, SkbInfo: true, Entries: map[string]string{}}
		for _, x := range es {
			a.Entries[x.String()] = x.Extensions()
		}
		return a
	}
	set := func(es ...Entry) Set {
		return Set{SetSpec: SetSpec{Name: "s", Type: HashIPPort, SkbInfo: true}, Entries: es}
	}
	for _, tc := range []struct {
		name     string
		desired  Set
		actual   *actualSet
		add, del []string
	}{
		{"in sync", set(e(1, 1), e(2, 2)), saved(e(1, 1), e(2, 2)), nil, nil},
		{"mark moved", set(e(1, 1), e(2, 3)), saved(e(1, 1), e(2, 2)), []string{"10.0.0.2,tcp:80 skbmark 0x3/0x3fff"}, nil},
		{"extra", set(e(1, 1)), saved(e(1, 1), e(2, 2)), nil, []string{"10.0.0.2,tcp:80"}},
		{"missing and extra", set(e(1, 1), e(3, 3)), saved(e(1, 1), e(2, 2)), []string{"10.0.0.3,tcp:80 skbmark 0x3/0x3fff"}, []string{"10.0.0.2,tcp:80"}},
		// Counted, the duplicate would stand for the extra 10.0.0.2.
		{"duplicate", set(e(1, 1), e(1, 1)), saved(e(1, 1), e(2, 2)), nil, []string{"10.0.0.2,tcp:80"}},
		{"same element, two marks", set(e(1, 1), e(1, 2)), saved(e(1, 1), e(2, 2)), []string{"10.0.0.1,tcp:80 skbmark 0x2/0x3fff"}, []string{"10.0.0.2,tcp:80"}},
		{"unsorted", set(e(3, 3), e(1, 1)), saved(e(1, 1), e(2, 2)), []string{"10.0.0.3,tcp:80 skbmark 0x3/0x3fff"}, []string{"10.0.0.2,tcp:80"}},
	} {
		add, del := planEntries(nil, nil, tc.desired, tc.actual)
		var gotAdd, gotDel []string
		for _, op := range add {
			gotAdd = append(gotAdd, op.Entry)
		}
		for _, op := range del {
			gotDel = append(gotDel, op.Entry)
		}
		if !slices.Equal(gotAdd, tc.add) || !slices.Equal(gotDel, tc.del) {
			t.Errorf("%s: add %q del %q; want add %q del %q", tc.name, gotAdd, gotDel, tc.add, tc.del)
		}
	}

	var es []Entry
	for i := range 1000 {
		es = append(es, Entry{IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Protocol: ipvs.UDP, Port: 53, Mark: uint32(i), MarkMask: 0x3fff})
	}
	s, a := set(es...), saved(es...)
	if allocs := testing.AllocsPerRun(10, func() { planEntries(nil, nil, s, a) }); allocs > 8 {
		t.Errorf("comparing a set of 1,000 entries in sync made %.0f allocations; want a few buffers, none per entry", allocs)
	}
}

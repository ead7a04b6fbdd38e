package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// shapes are files of many forms, valid and not. fast marks those the
// Parser must parse by their items (so the tests cannot pass by always
// falling back to Parse).
var shapes = []struct {
	name string
	yaml string
	fast bool
}{
	{"flow items, indentless", "interface: ipvs0\nservices:\n" + flowItems(0, 3, 1, ""), true},
	{"flow items, indented", "services:\n" + flowItems(0, 3, 1, "  "), true},
	{"flow items, weight edited", "interface: ipvs0\nservices:\n" + flowItems(0, 3, 7, ""), true},
	{"flow items, one more", "interface: ipvs0\nservices:\n" + flowItems(0, 4, 1, ""), true},
	{"flow items, first removed", "interface: ipvs0\nservices:\n" + flowItems(1, 3, 1, ""), true},
	{"block items", base, true},
	{"block items, indentless", "services:\n- name: web\n  vip: 192.0.2.10\n  port: 80\n  backends:\n  - address: 10.0.0.2\n    port: 8080\n", true},
	{"lone dash", "services:\n-\n  name: web\n  vip: 192.0.2.10\n  port: 80\n  backends: [{address: 10.0.0.2}]\n", true},
	{"header after the list", "services:\n" + flowItems(0, 2, 1, "") + "masquerade: local\ninterface: lb0\n", true},
	{"comments and blank lines inside", "# generated\nservices:\n\n" + strings.ReplaceAll(flowItems(0, 3, 1, ""), "\n", " # svc\n\n") +
		"  # an indented comment\n" + flowItems(5, 6, 1, ""), true},
	{"comment at column 0 between items", "services:\n" + flowItems(0, 1, 1, "") + "# next\n" + flowItems(1, 2, 1, ""), false},
	{"comment at column 0 between indented items", "services:\n" + flowItems(0, 1, 1, "  ") + "# next\n" + flowItems(1, 2, 1, "  "), false},
	{"no final newline", "services:\n" + strings.TrimSuffix(flowItems(0, 2, 1, ""), "\n"), true},
	{"multi-line flow item", "services:\n- {name: a, vip: 192.0.2.1, port: 80,\n   backends: [{address: 10.0.0.1}]}\n" + flowItems(1, 2, 1, ""), true},
	{"flow continuation at column 0", "services:\n- {name: a, vip: 192.0.2.1, port: 80,\nbackends: [{address: 10.0.0.1}]}\n", false},
	{"quote spanning items", "services:\n- {name: \"a\n- b\", vip: 192.0.2.1, port: 80, backends: [{address: 10.0.0.1}]}\n", false},
	{"quoted name", "services:\n- {name: 'web', vip: \"192.0.2.1\", port: 80, backends: [{address: '10.0.0.1'}]}\n", true},
	{"bgp and sync around the list", "bgp:\n  asn: 64512\n  routerID: 10.11.1.2\n  peers:\n  - {address: 10.11.1.1, asn: 64500}\nservices:\n" +
		flowItems(0, 2, 1, "") + "sync:\n  interface: eth0\n  syncID: 3\n  role: both\n", true},
	{"health checks", "services:\n- name: web\n  vip: 192.0.2.10\n  port: 80\n  healthCheck: {type: http, path: /healthz, interval: 1s}\n" +
		"  quorum: 1\n  sorryServer: {address: 10.0.9.9}\n  backends: [{address: 10.0.0.2}, {address: 10.0.0.3}]\n", true},
	{"a query in a check path", "services:\n- name: web\n  vip: 192.0.2.10\n  port: 80\n  healthCheck: {type: http, path: /h?x=1}\n  backends: [{address: 10.0.0.2}]\n", false},
	{"anchors and aliases", "services:\n- &w {name: a, vip: 192.0.2.1, port: 80, backends: &b [{address: 10.0.0.1}]}\n- {name: b, vip: 192.0.2.2, port: 80, backends: *b}\n", false},
	{"merge key", "services:\n- {<<: {vip: 192.0.2.1, port: 80}, name: a, backends: [{address: 10.0.0.1}]}\n", true},
	{"flow list", "services: [{name: a, vip: 192.0.2.1, port: 80, backends: [{address: 10.0.0.1}]}]\n", false},
	{"empty list", "services: []\n", false},
	{"no items", "services:\ninterface: ipvs0\n", false},
	{"no services key", "interface: ipvs0\n", false},
	{"empty", "", false},
	{"blank", "  \n\n", false},
	{"document markers", "---\nservices:\n" + flowItems(0, 2, 1, "") + "...\n", false},
	{"tabs", "services:\n" + flowItems(0, 1, 1, "") + "-\t{name: b}\n", false},
	{"CRLF", strings.ReplaceAll("services:\n"+flowItems(0, 2, 1, ""), "\n", "\r\n"), false},
	{"services twice", "services:\n" + flowItems(0, 1, 1, "") + "services:\n" + flowItems(1, 2, 1, ""), false},
	{"duplicate names", "services:\n" + flowItems(0, 2, 1, "") + flowItems(1, 2, 3, ""), false},
	{"duplicate virtual servers", "services:\n" + flowItems(0, 1, 1, "") + strings.Replace(flowItems(0, 1, 1, ""), "name: s0", "name: t0", 1), false},
	{"NAT and DR on one VIP", "services:\n- {name: a, vip: 192.0.2.1, port: 80, backends: [{address: 10.0.0.1}]}\n" +
		"- {name: b, vip: 192.0.2.1, port: 81, forwarding: dr, backends: [{address: 10.0.0.2}]}\n", false},
	{"a bad address", "services:\n" + flowItems(0, 2, 1, "") + "- {name: x, vip: 300.0.0.1, port: 80, backends: [{address: 10.0.0.1}]}\n", false},
	{"an unknown field", "services:\n" + flowItems(0, 2, 1, "") + "- {name: x, vip: 192.0.2.9, port: 80, wieght: 2, backends: [{address: 10.0.0.1}]}\n", false},
	{"a duplicate key", "services:\n- {name: x, vip: 192.0.2.9, port: 80, port: 81, backends: [{address: 10.0.0.1}]}\n", false},
	{"a type error", "services:\n" + flowItems(0, 2, 1, "") + "- {name: x, vip: 192.0.2.9, port: eighty, backends: [{address: 10.0.0.1}]}\n", false},
	{"a YAML error in an item", "services:\n" + flowItems(0, 2, 1, "") + "- {name: x, vip: 192.0.2.9\n", false},
	{"a bad header", "interface: a-very-long-interface-name\nservices:\n" + flowItems(0, 2, 1, ""), false},
	{"an unknown top-level key", "servics: 1\nservices:\n" + flowItems(0, 2, 1, ""), false},
	{"a header key inside the list's indentation", "services:\n" + flowItems(0, 1, 1, "  ") + " masquerade: local\n", false},
	{"a string item", "services:\n- web\n", false},
	{"a null item", "services:\n-\n" + flowItems(0, 1, 1, ""), false},
	{"a multi-line plain scalar in the header", "interface: ipvs0\n  # x\nmasquerade:\n  local\nservices:\n" + flowItems(0, 1, 1, ""), true},
}

// flowItems writes services s<from>..s<to-1> in flow style, one a line,
// as the lab's generator does; s0's first backend has weight w.
func flowItems(from, to, w int, indent string) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		weight := 1
		if i == 0 {
			weight = w
		}
		x, y := i/250, i%250+1
		fmt.Fprintf(&b, "%s- {name: s%d, vip: 10.96.%d.%d, port: 80, scheduler: rr, backends: [{address: 10.100.%d.%d, weight: %d}, {address: 10.101.%d.%d}]}\n",
			indent, i, x, y, x, y, weight, x, y)
	}
	return b.String()
}

// sameAsParse fails unless p's parse of data is Parse's, to the error text.
func sameAsParse(t *testing.T, p *Parser, data []byte) {
	t.Helper()
	want, wantErr := Parse(data)
	got, err := p.Parse(data)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("error %v, Parse's %v", err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsed\n%+v\nParse gives\n%+v", got, want)
	}
}

func TestParserAgreesWithParse(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			p := NewParser()
			sameAsParse(t, p, []byte(sh.yaml))
			if st := p.Stats(); st.Whole == sh.fast {
				t.Errorf("stats %+v: want the fast path %v", st, sh.fast)
			}
			// Again, every service from memory.
			sameAsParse(t, p, []byte(sh.yaml))
			if st := p.Stats(); sh.fast && st.Parsed != 0 {
				t.Errorf("the same file again parsed %d services", st.Parsed)
			}
		})
	}
}

// TestParserAfterEachOther parses every shape after every other, so the
// memory of one file meets the next: Parse's result every time.
func TestParserAfterEachOther(t *testing.T) {
	for _, a := range shapes {
		for _, b := range shapes {
			p := NewParser()
			_, _ = p.Parse([]byte(a.yaml))
			t.Run(a.name+" then "+b.name, func(t *testing.T) { sameAsParse(t, p, []byte(b.yaml)) })
		}
	}
}

// TestParserParsesWhatChanged counts the services parsed: a one-weight
// edit of a large file parses one service, an invalid file is rejected
// with Parse's error and leaves the memory as it was.
func TestParserParsesWhatChanged(t *testing.T) {
	const n = 2000
	file := func(w int, extra string) []byte {
		return []byte("interface: ipvs0\nservices:\n" + flowItems(0, n, w, "") + extra)
	}
	p := NewParser()
	steps := []struct {
		name                 string
		data                 []byte
		whole                bool
		services, parsedWant int
	}{
		{"cold", file(1, ""), false, n, n},
		{"one weight", file(2, ""), false, n, 1},
		{"unchanged", file(2, ""), false, n, 0},
		{"one added", file(2, flowItems(n, n+1, 1, "")), false, n + 1, 1},
		{"a bad service", file(2, "- {name: x, vip: 300.0.0.1, port: 80, backends: [{address: 10.0.0.1}]}\n"), true, 0, 0},
		{"a header edit", append([]byte("masquerade: local\n"), file(3, "")...), false, n, 1},
		// The checks across services, on the changed ones only.
		{"a second s1", file(3, "- {name: s1, vip: 192.0.2.9, port: 80, backends: [{address: 10.0.0.1}]}\n"), true, 0, 0},
		{"s1's virtual server twice", file(3, "- {name: x, vip: 10.96.0.2, port: 80, backends: [{address: 10.0.0.1}]}\n"), true, 0, 0},
		{"DR on s0's NAT VIP", file(3, "- {name: x, vip: 10.96.0.1, port: 81, forwarding: dr, backends: [{address: 10.0.0.1}]}\n"), true, 0, 0},
		{"an item twice", file(3, flowItems(7, 8, 1, "")), true, 0, 0},
		{"back to the last good file", append([]byte("masquerade: local\n"), file(3, "")...), false, n, 0},
		{"s1 replaced by another s1 on s0's VIP", []byte("masquerade: local\ninterface: ipvs0\nservices:\n" + flowItems(0, 1, 3, "") +
			"- {name: s1, vip: 10.96.0.1, port: 81, backends: [{address: 10.0.0.1}]}\n" + flowItems(2, n, 1, "")), false, n, 1},
		{"then DR on that VIP", []byte("masquerade: local\ninterface: ipvs0\nservices:\n" + flowItems(0, 1, 3, "") +
			"- {name: s1, vip: 10.96.0.1, port: 81, forwarding: dr, backends: [{address: 10.0.0.1}]}\n" + flowItems(2, n, 1, "")), true, 0, 0},
		{"s0 gone, so DR may have its VIP", []byte("masquerade: local\ninterface: ipvs0\nservices:\n" +
			"- {name: s1, vip: 10.96.0.1, port: 81, forwarding: dr, backends: [{address: 10.0.0.1}]}\n" + flowItems(2, n, 1, "")), false, n - 1, 1},
	}
	for _, st := range steps {
		sameAsParse(t, p, st.data)
		if got := p.Stats(); got != (ParseStats{Whole: st.whole, Services: st.services, Parsed: st.parsedWant}) {
			t.Errorf("%s: stats %+v, want %d of %d services parsed (whole %v)", st.name, got, st.parsedWant, st.services, st.whole)
		}
	}
}

func TestParserExampleFile(t *testing.T) {
	for _, f := range []string{"../../../../examples/standalone.yaml", "../../../../examples/director.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := NewParser()
		sameAsParse(t, p, data)
		sameAsParse(t, p, data)
	}
}

// FuzzParser parses arbitrary files after arbitrary files: the Parser
// must give exactly what Parse gives, errors included.
func FuzzParser(f *testing.F) {
	for i, a := range shapes {
		b := shapes[(i+1)%len(shapes)]
		f.Add([]byte(a.yaml), []byte(b.yaml))
		f.Add([]byte(a.yaml), []byte(a.yaml))
	}
	f.Fuzz(func(t *testing.T, prev, next []byte) {
		p := NewParser()
		_, _ = p.Parse(prev)
		sameAsParse(t, p, next)
		sameAsParse(t, p, prev)
	})
}

// BenchmarkParser compares Parse with the Parser's first parse (every
// service alone) and its parse of a one-weight edit, at 10,000 services.
func BenchmarkParser(b *testing.B) {
	const n = 10000
	file := func(w int) []byte { return []byte("interface: ipvs0\nservices:\n" + flowItems(0, n, w, "")) }
	b.Run("Parse", func(b *testing.B) {
		data := file(1)
		for b.Loop() {
			if _, err := Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		data := file(1)
		for b.Loop() {
			if _, err := NewParser().Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one weight", func(b *testing.B) {
		p := NewParser()
		if _, err := p.Parse(file(1)); err != nil {
			b.Fatal(err)
		}
		edits := [][]byte{file(2), file(3)}
		i := 0
		for b.Loop() {
			if _, err := p.Parse(edits[i%2]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// TestSameParse: the services a Parser hands out again for unchanged
// items are the same parse; an edited one and two whole parses are not.
func TestSameParse(t *testing.T) {
	p := NewParser()
	a, err := p.Parse([]byte("services:\n" + flowItems(0, 3, 1, "")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Parse([]byte("services:\n" + flowItems(0, 3, 2, "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := []bool{a.Services[0].SameParse(&b.Services[0]), a.Services[1].SameParse(&b.Services[1]), a.Services[2].SameParse(&b.Services[2])}; !reflect.DeepEqual(got, []bool{false, true, true}) {
		t.Errorf("same parse of s0, s1, s2: %v, want s1 and s2", got)
	}
	w1, _ := Parse([]byte(base))
	w2, _ := Parse([]byte(base))
	if w1.Services[0].SameParse(&w2.Services[0]) || !reflect.DeepEqual(w1, w2) {
		t.Error("two whole parses: want equal services that are not the same parse")
	}
}

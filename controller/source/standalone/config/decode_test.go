package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseRejectsEmptyFiles: a file caught mid-write by an editor, scp
// or `cat >` (nothing yet, or nothing but whitespace) and a file whose
// services are null or missing are mistakes, never "no services": read as
// that, a reload would delete every virtual server. Only an explicit empty
// list means none.
func TestParseRejectsEmptyFiles(t *testing.T) {
	const empty = "the file is empty (only whitespace or comments): write services: [] to run no services"
	cases := []struct{ name, yaml, want string }{
		{"zero bytes", "", empty},
		{"newlines", "\n\n\n", empty},
		{"whitespace", " \t\r\n  \n", empty},
		{"comment only", "# being written\n", empty},
		{"document marker only", "---\n", empty},
		{"null document", "null\n", empty},
		{"services null", "services: null\n", "services: is required (services: [] for none)"},
		{"services without value", "interface: ipvs0\nservices:\n", "services: is required (services: [] for none)"},
		{"no services key", "interface: ipvs0\n", "services: is required (services: [] for none)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted, with %d services", len(c.Services))
			}
			if err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
	if c, err := Parse([]byte("services: []\n")); err != nil || len(c.Services) != 0 {
		t.Fatalf("an explicit empty list: %v, %+v", err, c)
	}
}

// TestParseIsStrict: keys match case-sensitively; every unknown key,
// duplicate key and mistyped value is reported with its path, in one run
// and beside the validation errors; a second document is an error.
func TestParseIsStrict(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"differently cased duplicate", `
services:
  - name: a
    vip: 192.0.2.1
    port: 80
    BACKENDS: [{address: 10.0.0.9}]
    backends: [{address: 10.0.0.1}]
`, []string{`unknown field "services[a].BACKENDS"`}},
		{"cased top-level key", "Interface: ipvs0\nservices: []\n", []string{`unknown field "Interface"`}},
		{"duplicate keys", `
services:
  - name: a
    vip: 192.0.2.1
    port: 80
    port: 81
    backends: [{address: 10.0.0.1, weight: 1, weight: 2}]
services: []
`, []string{
			"services[a].port: duplicate key (line 6, first at line 5)",
			"services[a].backends[0].weight: duplicate key (line 7, first at line 7)",
			"services: duplicate key (line 8, first at line 2)",
		}},
		{"every unknown field", `
interfaces: ipvs0
services:
  - name: a
    vip: 192.0.2.1
    port: 80
    wieght: 3
    healthCheck: {type: tcp, intervall: 1s}
    backends: [{address: 10.0.0.1, prot: 80}]
`, []string{
			`unknown field "interfaces"`,
			`unknown field "services[a].backends[0].prot"`,
			`unknown field "services[a].healthCheck.intervall"`,
			`unknown field "services[a].wieght"`,
		}},
		{"type errors hide nothing", `
services:
  - name: a
    vip: 192.0.2.1
    port: eighty
    quorum: [1]
    wieght: 3
    backends:
      - {address: 10.0.0.1, weight: heavy}
      - {address: 10.0.0.2, port: 99999}
  - name: b
    vip: [192.0.2.2]
    port: 80
    fwmark: 1.5
    healthCheck: true
    backends: "10.0.0.3"
  - 42
  - name: c
    vip: 192.0.2.3
    port: 99999999999999999999
    drain: 10
    backends: [{address: 10.0.0.4, port: 8080}]
`, []string{
			`services[a].port: want an integer, not the string "eighty"`,
			"services[a].quorum: want an integer, not a list",
			`services[a].backends[0].weight: want an integer, not the string "heavy"`,
			"services[b].vip: want a string, not a list",
			"services[b].fwmark: want an integer, not the number 1.5",
			"services[b].healthCheck: want a mapping, not true",
			`services[b].backends: want a list, not the string "10.0.0.3"`,
			"services[2]: want a mapping, not the number 42",
			"services[c].port: want an integer, not the number 100000000000000000000",
			"services[c].drain: want a string, not the number 10",
			`unknown field "services[a].wieght"`,
			"services[a].backends[1].port: must be 1-65535",
		}},
		{"second document", "services: []\n---\nservices: []\n", []string{
			"line 2: a second YAML document: a config file holds exactly one",
		}},
		{"second document after an empty one", "services: []\n---\n---\n# and\nservices: [{}]\n", []string{
			"line 3: a second YAML document: a config file holds exactly one",
		}},
		{"trailing document marker", "services: []\n---\n", nil},
		{"not a mapping", "- name: a\n", []string{"line 1: the file must be a mapping (interface:, masquerade:, services:)"}},
		{"names", `
services:
  - name: web frontend
    vip: 192.0.2.1
    port: 80
    backends: [{address: 10.0.0.1}]
  - name: ` + strings.Repeat("n", 64) + `
    vip: 192.0.2.1
    port: 81
    backends: [{address: 10.0.0.1}]
`, []string{
			`services[0].name: "web frontend" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
			`services[1].name: "` + strings.Repeat("n", 64) + `" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		}},
		{"health check strings", `
services:
  - name: a
    vip: 192.0.2.1
    port: 80
    healthCheck: {type: http, path: "/a b", host: "x\ny"}
    backends: [{address: 10.0.0.1}]
  - name: b
    vip: 192.0.2.1
    port: 81
    healthCheck: {type: http, path: "/` + strings.Repeat("p", MaxPathLength) + `"}
    backends: [{address: 10.0.0.1}]
`, []string{
			"services[a].healthCheck.path: must be at most 1024 bytes, without spaces or control characters",
			"services[a].healthCheck.host: must be at most 253 bytes, without spaces or control characters",
			"services[b].healthCheck.path: must be at most 1024 bytes, without spaces or control characters",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if diff := cmp.Diff(tc.want, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInterfaceNames: the kernel's rules for a link name.
func TestInterfaceNames(t *testing.T) {
	for _, name := range []string{"ipvs0", "a", "lb-vips.1", "fifteen-bytes15"} {
		if _, err := Parse([]byte("interface: " + name + "\nservices: []\n")); err != nil {
			t.Errorf("%q rejected: %v", name, err)
		}
	}
	for _, name := range []string{"a/b", "eth 0", "tab\there", ".", "..", "eth0:1", "sixteen-bytes-16", "nul\x00"} {
		_, err := Parse([]byte("interface: \"" + strings.ReplaceAll(name, "\x00", `\0`) + "\"\nservices: []\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "interface: ") {
			t.Errorf("%q: %v, want an interface error", name, err)
		}
	}
}

// TestLongValuesAreNotEchoed: an error quotes a bounded prefix of a huge
// value, so one bad line cannot flood the log.
func TestLongValuesAreNotEchoed(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	key := strings.Repeat("k", 1000) // YAML's limit for a key is 1024
	_, err := Parse([]byte("services:\n- name: " + huge + "\n  vip: " + huge + "\n  port: 80\n  scheduler: " + huge +
		"\n  backends: [{address: 10.0.0.1}]\n  " + key + ": 1\n  " + key + ": 2\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	if n := len(err.Error()); n > 2000 {
		t.Fatalf("error of %d bytes for three 1 MiB values and a long key twice: %.300s", n, err)
	}
	for _, want := range []string{"services[0].name: ", "services[0].vip: ", "services[0].scheduler: ", "(1048576 bytes)",
		"duplicate key (line 8, first at line 7)", `unknown field "services[0].kkkk`, "(1000 bytes)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %s", want, err)
		}
	}
}

// TestLoadLimitsSize: a file over MaxFileSize is rejected after reading
// just past the limit, so --config /dev/zero fails at once instead of
// exhausting memory.
func TestLoadLimitsSize(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	pad := "services: []\n#" + strings.Repeat("x", 16<<20) + "\n"
	if err := os.WriteFile(big, []byte(pad), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "larger than 16777216 bytes (16 MiB), the limit"
	for _, path := range []string{big, "/dev/zero"} {
		_, _, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want it to name the file and say %q", path, err, want)
		}
	}
	if _, err := Parse([]byte(pad)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse of %d bytes: %v", len(pad), err)
	}
}

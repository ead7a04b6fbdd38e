package config

import (
	"os"
	"reflect"
	"testing"
)

// FuzzDecodeClean holds the fast path to the reporting one: whatever
// decodeClean accepts, decodeReporting must decode to the same Config with
// nothing to report. Otherwise the daemon would run a file that --check
// rejects.
func FuzzDecodeClean(f *testing.F) {
	example, err := os.ReadFile("../../../../examples/standalone.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		"services: []\n",
		"interface: ipvs0\nservices:\n- {name: s0, vip: 10.96.0.1, port: 8000, backends: [{address: 10.100.0.1, weight: 1}]}\n",
		"services:\n- name: a\n  vip: 192.0.2.1\n  port: \"80\"\n  backends: [{address: 10.0.0.1}]\n",
		"services:\n- name: a\n  port: 80\n  port: 81\n",
		"Interface: ipvs0\nservices: []\n",
		"services: []\n---\nservices: []\n",
		"--- \nservices: []\n",
		"services: [{name: a, weight: on}]\n",
		"masquerade: yes\nservices: []\n",
		"services:\n  - name: a\n    drain: 1e3\n",
		"[1, 2]\n",
		"# only a comment\n",
		"services: null\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Config
		if !decodeClean(data, &fast) {
			return
		}
		var slow Config
		var p problems
		if err := decodeReporting(data, &slow, &p); err != nil {
			t.Fatalf("decodeClean accepted what decodeReporting calls fatal: %v", err)
		}
		if err := p.err(); err != nil {
			t.Fatalf("decodeClean accepted a file with problems: %v", err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decoded differently:\nclean     %+v\nreporting %+v", fast, slow)
		}
	})
}

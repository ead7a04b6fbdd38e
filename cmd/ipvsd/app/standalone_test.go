package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStandaloneCheck: --check exits 0 for the shipped example and 1 for a
// file with mistakes, listing every one with its service and field.
func TestStandaloneCheck(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(`
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    backends: [{address: 10.0.0.1}, {address: 10.0.0.2, port: 70000}]
  - name: api
    vip: 192.0.2.11
    port: 0
    backends: [{address: 10.0.0.1}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file string
		code int
		out  []string
	}{
		{"../../../examples/standalone.yaml", 0, []string{"valid, 2 services"}},
		{bad, 1, []string{"services[web].backends[1].port: must be 1-65535", "services[api].port: must be 1-65535"}},
		{filepath.Join(t.TempDir(), "missing.yaml"), 1, []string{"reading config"}},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := Execute(context.Background(), []string{"standalone", "--config", tc.file, "--check"}, &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.file, code, tc.code, stdout.String(), stderr.String())
		}
		for _, want := range tc.out {
			if !strings.Contains(stdout.String()+stderr.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s%s", tc.file, want, stdout.String(), stderr.String())
			}
		}
	}
}

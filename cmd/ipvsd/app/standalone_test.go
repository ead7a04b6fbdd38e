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
sync: {interface: eth1, role: primary, syncID: 300}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file string
		code int
		out  []string
	}{
		{"../../../examples/standalone.yaml", 0, []string{"valid, 2 services"}},
		{"../../../examples/director.yaml", 0, []string{"valid, 1 services"}},
		{bad, 1, []string{"services[web].backends[1].port: must be 1-65535", "services[api].port: must be 1-65535",
			`sync.role: must be master, backup or both, not "primary"`, "sync.syncID: must be 0-255"}},
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

// TestStandaloneCheckValidatesFlags: --check vouches for the whole command
// line, so a flag that would make the daemon fail (or misbehave) fails
// the check too, naming the flag; and an empty file is invalid.
func TestStandaloneCheckValidatesFlags(t *testing.T) {
	const example = "../../../examples/standalone.yaml"
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte(" \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badIf := filepath.Join(t.TempDir(), "interface.yaml")
	if err := os.WriteFile(badIf, []byte("interface: eth0/1\nservices: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		out  []string
	}{
		{[]string{"--config", example, "--iptables-mode", "foo"}, []string{`--iptables-mode: unknown iptables mode "foo"`}},
		{[]string{"--config", example, "--log-level", "loud"}, []string{"--log-level: "}},
		{[]string{"--config", example, "--metrics-addr", "9578"}, []string{"--metrics-addr: "}},
		{[]string{"--config", example, "--metrics-addr", "127.0.0.1:99999"}, []string{"--metrics-addr: "}},
		{[]string{"--config", example, "--profile-addr", "0.0.0.0:6060"}, []string{"--profile-addr: 0.0.0.0:6060: must be a loopback address"}},
		{[]string{"--config", example, "--profile-addr", "192.0.2.1:6060"}, []string{"--profile-addr: 192.0.2.1:6060: must be a loopback address"}},
		{[]string{"--config", example, "--profile-addr", "127.0.0.1"}, []string{"--profile-addr: "}},
		{[]string{"--config", example, "--record", ""}, []string{"--record: must name a file"}},
		{[]string{"--config", example, "--watch-interval", "-1s"}, []string{"--watch-interval: must be 0"}},
		{[]string{"--config", example, "--watch-interval", "1ns"}, []string{"--watch-interval: must be 0"}},
		{[]string{"--config", empty, "--iptables-mode", "bogus"}, []string{"--iptables-mode: ", "the file is empty"}},
		{[]string{"--config", badIf}, []string{`interface: "eth0/1" is not a Linux interface name`}},
		// Read through the size limit: fails at once, not out of memory.
		{[]string{"--config", "/dev/zero"}, []string{"reading config /dev/zero: larger than 16777216 bytes (16 MiB), the limit"}},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		args := append([]string{"standalone", "--check"}, tc.args...)
		if code := Execute(context.Background(), args, &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s%s", tc.args, code, stdout.String(), stderr.String())
		}
		for _, want := range tc.out {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%v: output lacks %q:\n%s%s", tc.args, want, stdout.String(), stderr.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	args := []string{"standalone", "--check", "--config", example, "--iptables-mode", "none", "--metrics-addr", "", "--watch-interval", "0", "--profile-addr", "[::1]:6060"}
	if code := Execute(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Errorf("valid flags: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

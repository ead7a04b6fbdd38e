package netlinkutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestParseKernelRelease(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    KernelVersion
		wantErr bool
	}{
		{"6.1.0-56-amd64", KernelVersion{6, 1}, false},
		{"5.4.0-1045-aws", KernelVersion{5, 4}, false},
		{"4.19.112+", KernelVersion{4, 19}, false},
		{"5.10-rc1", KernelVersion{5, 10}, false},
		{"6.18.44-fc-v669", KernelVersion{6, 18}, false},
		{"5.9", KernelVersion{5, 9}, false},
		{"6", KernelVersion{}, true},
		{"", KernelVersion{}, true},
		{"x.1.0", KernelVersion{}, true},
		{"6.x", KernelVersion{}, true},
	} {
		got, err := ParseKernelRelease(tc.release)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseKernelRelease(%q) = %v, %v; want %v, error %v", tc.release, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestConnReuseMode(t *testing.T) {
	for _, tc := range []struct {
		v    KernelVersion
		want string
	}{
		{KernelVersion{4, 19}, "0"},
		{KernelVersion{5, 4}, "0"},
		{KernelVersion{5, 8}, "0"},
		{KernelVersion{5, 9}, "1"},
		{KernelVersion{5, 10}, "1"},
		{KernelVersion{6, 0}, "1"},
		{KernelVersion{6, 1}, "1"},
	} {
		if got := ConnReuseMode(tc.v); got != tc.want {
			t.Errorf("ConnReuseMode(%s) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// fakeProcSys writes the given sysctls (with the kernel's trailing
// newline) under a temporary root.
func fakeProcSys(t *testing.T, values map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, v := range values {
		p := SysctlPath(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestEnsureIPVSSysctls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release string
		before  map[string]string
		changes []SysctlChange
	}{{
		name:    "fresh 6.1 node",
		release: "6.1.0-56-amd64",
		before: map[string]string{
			"net.ipv4.vs.conntrack": "0", "net.ipv4.vs.expire_nodest_conn": "0",
			"net.ipv4.vs.expire_quiescent_template": "0", "net.ipv4.vs.conn_reuse_mode": "1",
			"net.ipv4.ip_forward": "0",
		},
		changes: []SysctlChange{
			{"net.ipv4.vs.conntrack", "0", "1"},
			{"net.ipv4.vs.expire_nodest_conn", "0", "1"},
			{"net.ipv4.vs.expire_quiescent_template", "0", "1"},
			{"net.ipv4.ip_forward", "0", "1"},
		},
	}, {
		name:    "5.4 gets conn_reuse_mode 0",
		release: "5.4.0-1045-aws",
		before: map[string]string{
			"net.ipv4.vs.conntrack": "1", "net.ipv4.vs.expire_nodest_conn": "1",
			"net.ipv4.vs.expire_quiescent_template": "1", "net.ipv4.vs.conn_reuse_mode": "1",
			"net.ipv4.ip_forward": "1",
		},
		changes: []SysctlChange{{"net.ipv4.vs.conn_reuse_mode", "1", "0"}},
	}, {
		name:    "5.9 undoes an old 0",
		release: "5.9.0",
		before: map[string]string{
			"net.ipv4.vs.conntrack": "1", "net.ipv4.vs.expire_nodest_conn": "1",
			"net.ipv4.vs.expire_quiescent_template": "1", "net.ipv4.vs.conn_reuse_mode": "0",
			"net.ipv4.ip_forward": "1",
		},
		changes: []SysctlChange{{"net.ipv4.vs.conn_reuse_mode", "0", "1"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeProcSys(t, tc.before)
			core, logs := observer.New(zap.InfoLevel)
			changes, err := EnsureIPVSSysctls(zap.New(core), root, tc.release)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.changes, changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			var logged []SysctlChange
			for _, e := range logs.All() {
				m := e.ContextMap()
				logged = append(logged, SysctlChange{m["name"].(string), m["old"].(string), m["new"].(string)})
			}
			if diff := cmp.Diff(tc.changes, logged); diff != "" {
				t.Errorf("logged changes (-want +got):\n%s", diff)
			}
			// A second pass finds nothing to do and writes nothing.
			again, err := EnsureIPVSSysctls(zap.NewNop(), root, tc.release)
			if err != nil || len(again) != 0 {
				t.Errorf("second pass: %v, %v; want no changes", again, err)
			}
		})
	}
}

// Without ip_vs loaded there is no net/ipv4/vs: every missing sysctl is
// named in the joined error, nothing is created, and ip_forward is still
// set.
func TestEnsureIPVSSysctlsWithoutIPVS(t *testing.T) {
	root := fakeProcSys(t, map[string]string{"net.ipv4.ip_forward": "0"})
	changes, err := EnsureIPVSSysctls(zap.NewNop(), root, "6.1.0")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	for _, name := range []string{"conntrack", "expire_nodest_conn", "expire_quiescent_template", "conn_reuse_mode"} {
		if !strings.Contains(err.Error(), "net.ipv4.vs."+name) {
			t.Errorf("error does not name net.ipv4.vs.%s: %v", name, err)
		}
	}
	if diff := cmp.Diff([]SysctlChange{{"net.ipv4.ip_forward", "0", "1"}}, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(root, "net", "ipv4", "vs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("net/ipv4/vs was created: %v", err)
	}
}

// A release we cannot read leaves conn_reuse_mode alone but applies the
// rest.
func TestEnsureIPVSSysctlsBadRelease(t *testing.T) {
	root := fakeProcSys(t, map[string]string{
		"net.ipv4.vs.conntrack": "0", "net.ipv4.vs.expire_nodest_conn": "1",
		"net.ipv4.vs.expire_quiescent_template": "1", "net.ipv4.vs.conn_reuse_mode": "7",
		"net.ipv4.ip_forward": "1",
	})
	changes, err := EnsureIPVSSysctls(zap.NewNop(), root, "garbage")
	if err == nil || !strings.Contains(err.Error(), "conn_reuse_mode") {
		t.Fatalf("got %v, want an error about conn_reuse_mode", err)
	}
	if diff := cmp.Diff([]SysctlChange{{"net.ipv4.vs.conntrack", "0", "1"}}, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if v, _ := ReadSysctl(root, "net.ipv4.vs.conn_reuse_mode"); v != "7" {
		t.Errorf("conn_reuse_mode = %s, want it untouched", v)
	}
}

func TestKernelRelease(t *testing.T) {
	r, err := KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKernelRelease(r); err != nil {
		t.Errorf("this host's own release: %v", err)
	}
}

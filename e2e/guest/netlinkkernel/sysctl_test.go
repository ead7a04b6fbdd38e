//go:build lab

package netlinkkernel

import (
	"os"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/netlinkutil"
)

// TestIPVSSysctls runs against the real /proc/sys with ip_vs loaded (the
// lab's init loads it). The lab kernel is 6.1, so conn_reuse_mode must end
// up 1, and a 0 left by somebody else must be put back.
func TestIPVSSysctls(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/vs"); err != nil {
		t.Fatalf("ip_vs is not loaded: %v", err)
	}
	release, err := netlinkutil.KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	v, err := netlinkutil.ParseKernelRelease(release)
	if err != nil || !v.AtLeast(5, 9) {
		t.Fatalf("lab kernel %q (%v, %v): these expectations are for 5.9 or later", release, v, err)
	}
	for name, value := range map[string]string{
		"net.ipv4.vs.conn_reuse_mode": "0",
		"net.ipv4.vs.conntrack":       "0",
	} {
		if err := netlinkutil.WriteSysctl(netlinkutil.ProcSys, name, value); err != nil {
			t.Fatal(err)
		}
	}
	log := zaptest.NewLogger(t)
	changes, err := netlinkutil.EnsureIPVSSysctls(log, netlinkutil.ProcSys, release)
	if err != nil {
		t.Fatal(err)
	}
	changed := map[string]netlinkutil.SysctlChange{}
	for _, c := range changes {
		changed[c.Name] = c
	}
	for _, name := range []string{"net.ipv4.vs.conn_reuse_mode", "net.ipv4.vs.conntrack"} {
		if c := changed[name]; c.Old != "0" || c.New != "1" {
			t.Errorf("change of %s = %+v, want 0 -> 1", name, c)
		}
	}
	for _, s := range netlinkutil.IPVSSysctls(v) {
		got, err := netlinkutil.ReadSysctl(netlinkutil.ProcSys, s.Name)
		if err != nil || got != s.Value {
			t.Errorf("%s = %q, %v; want %q", s.Name, got, err, s.Value)
		}
	}
	again, err := netlinkutil.EnsureIPVSSysctls(zap.NewNop(), netlinkutil.ProcSys, release)
	if err != nil || len(again) != 0 {
		t.Errorf("second pass: %v, %v; want no changes", again, err)
	}
}

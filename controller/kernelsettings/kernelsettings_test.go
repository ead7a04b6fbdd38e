package kernelsettings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// node is a fake /proc/sys and /sys/module with the files a node with
// nf_conntrack loaded has, at the kernel's defaults.
func node(t *testing.T) (procSys, sysModule string) {
	t.Helper()
	dir := t.TempDir()
	procSys, sysModule = filepath.Join(dir, "proc"), filepath.Join(dir, "module")
	for name, v := range map[string]string{
		"net.netfilter.nf_conntrack_max":                     "65536",
		"net.netfilter.nf_conntrack_tcp_timeout_established": "432000",
		"net.ipv4.conf.all.arp_ignore":                       "0",
	} {
		write(t, netlinkutil.SysctlPath(procSys, name), v)
	}
	write(t, filepath.Join(sysModule, "nf_conntrack", "parameters", "hashsize"), "16384")
	return procSys, sysModule
}

func write(t *testing.T, path, v string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var settings = Settings{
	Sysctls: []netlinkutil.Sysctl{
		{Name: "net.netfilter.nf_conntrack_max", Value: "131072"},
		{Name: "net.netfilter.nf_conntrack_tcp_timeout_established", Value: "86400"},
		{Name: "net.ipv4.conf.all.arp_ignore", Value: "1"},
	},
	ConntrackHashsize: 32768,
	IPVS:              ipvs.Timeouts{TCP: 15 * time.Minute, UDP: time.Minute},
}

// TestEnsureSetsThenRepairs: the first Ensure sets what differs and logs
// old and new; a second changes nothing; a value changed by hand is put
// back by the next.
func TestEnsureSetsThenRepairs(t *testing.T) {
	procSys, sysModule := node(t)
	core, logs := observer.New(zap.InfoLevel)
	timeouts := ipvstest.NewTimeouts()
	tu := New(settings, Deps{ProcSys: procSys, SysModule: sysModule, IPVS: timeouts, Log: zap.New(core)})
	if err := tu.Ensure(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, netlinkutil.SysctlPath(procSys, "net.netfilter.nf_conntrack_max")); got != "131072" {
		t.Errorf("nf_conntrack_max %s", got)
	}
	if got := read(t, filepath.Join(sysModule, "nf_conntrack/parameters/hashsize")); got != "32768" {
		t.Errorf("hashsize %s", got)
	}
	// tcp 900 s was the default already; udp changes, tcpfin is kept.
	want := ipvs.Timeouts{TCP: 15 * time.Minute, TCPFin: 2 * time.Minute, UDP: time.Minute}
	if got, _ := timeouts.Timeouts(); got != want {
		t.Errorf("IPVS timeouts %s, want %s", got, want)
	}
	first := logs.TakeAll()
	if len(first) != 5 { // three sysctls, the hash table, the timeouts
		t.Errorf("first Ensure logged %d changes, want 5: %v", len(first), first)
	}
	for _, e := range first {
		if _, ok := e.ContextMap()["old"]; !ok {
			t.Errorf("change logged without its old value: %v", e.ContextMap())
		}
	}

	if err := tu.Ensure(); err != nil {
		t.Fatal(err)
	}
	if n := logs.Len(); n != 0 || timeouts.Sets() != 1 {
		t.Errorf("second Ensure: %d changes logged, %d timeout writes in all", n, timeouts.Sets())
	}

	write(t, netlinkutil.SysctlPath(procSys, "net.ipv4.conf.all.arp_ignore"), "0")
	if err := timeouts.SetTimeouts(ipvs.Timeouts{UDP: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := tu.Ensure(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, netlinkutil.SysctlPath(procSys, "net.ipv4.conf.all.arp_ignore")); got != "1" {
		t.Errorf("arp_ignore not repaired: %s", got)
	}
	if got, _ := timeouts.Timeouts(); got != want {
		t.Errorf("IPVS timeouts not repaired: %s", got)
	}
}

// TestHashsizeNeverShrinks: a table already larger than asked stays.
func TestHashsizeNeverShrinks(t *testing.T) {
	procSys, sysModule := node(t)
	path := filepath.Join(sysModule, "nf_conntrack/parameters/hashsize")
	write(t, path, "262144")
	if err := New(Settings{ConntrackHashsize: 32768}, Deps{ProcSys: procSys, SysModule: sysModule}).Ensure(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "262144" {
		t.Errorf("hashsize %s", got)
	}
}

// TestEnsureTriesEverything: a missing sysctl (its module not loaded) and
// a failing IPVS call are both reported, by name, and the rest is set.
func TestEnsureTriesEverything(t *testing.T) {
	procSys, sysModule := node(t)
	timeouts := ipvstest.NewTimeouts()
	timeouts.FailNext(syscall.EPERM)
	s := settings
	s.Sysctls = append([]netlinkutil.Sysctl{{Name: "net.netfilter.nf_conntrack_udp_timeout", Value: "60"}}, s.Sysctls...)
	err := New(s, Deps{ProcSys: procSys, SysModule: sysModule, IPVS: timeouts}).Ensure()
	if err == nil || !strings.Contains(err.Error(), "nf_conntrack_udp_timeout") || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("error %v: want the missing sysctl and EPERM", err)
	}
	if got := read(t, netlinkutil.SysctlPath(procSys, "net.netfilter.nf_conntrack_max")); got != "131072" {
		t.Errorf("the rest was not set: nf_conntrack_max %s", got)
	}
}

func TestOnlineCPUs(t *testing.T) {
	dir := t.TempDir()
	for in, want := range map[string]int{"0-3\n": 4, "0-3,6\n": 5, "0\n": 1, "0-1,4-7": 6} {
		path := filepath.Join(dir, "online")
		write(t, path, in)
		if got := OnlineCPUs(path); got != want {
			t.Errorf("%q: %d CPUs, want %d", in, got, want)
		}
	}
	if OnlineCPUs(filepath.Join(dir, "missing")) < 1 {
		t.Error("fallback gave no CPUs")
	}
}

func TestSetOOMScoreAdj(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oom_score_adj")
	write(t, path, "0")
	core, logs := observer.New(zap.InfoLevel)
	for range 2 {
		if err := SetOOMScoreAdj(path, -999, zap.New(core)); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, path); got != "-999" || logs.Len() != 1 {
		t.Errorf("oom_score_adj %s, %d changes logged (want -999, one)", got, logs.Len())
	}
	if err := SetOOMScoreAdj(filepath.Join(t.TempDir(), "missing"), 1, zap.NewNop()); err == nil {
		t.Error("missing file: no error")
	}
}

package failover

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

type env struct {
	kernel  *ipvstest.SyncDaemons
	record  runstate.SyncDaemonStore
	procSys string
}

func newEnv(t *testing.T) env {
	t.Helper()
	dir := t.TempDir()
	procSys := filepath.Join(dir, "proc-sys")
	vs := filepath.Join(procSys, "net", "ipv4", "vs")
	if err := os.MkdirAll(vs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sloppy_tcp", "sloppy_sctp"} {
		if err := os.WriteFile(filepath.Join(vs, f), []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return env{
		kernel:  ipvstest.NewSyncDaemons("eth1", "eth2"),
		record:  runstate.SyncDaemonStore{Path: filepath.Join(dir, "run", runstate.SyncDaemonsFile)},
		procSys: procSys,
	}
}

// keeper is a Keeper as a new ipvsd process would build it.
func (e env) keeper() *Keeper {
	return New(Deps{Daemons: e.kernel, Record: e.record, ProcSys: e.procSys})
}

// state renders what runs and what the record says, one line each.
func (e env) state(t *testing.T) string {
	t.Helper()
	run, err := e.kernel.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	own, err := e.record.Load()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range run {
		b.WriteString("running " + d.String() + "\n")
	}
	for _, d := range own {
		b.WriteString("ours    " + d.String() + "\n")
	}
	return b.String()
}

func (e env) sysctl(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.procSys, "net", "ipv4", "vs", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func mustEnsure(t *testing.T, k *Keeper, d Desired, full bool) Result {
	t.Helper()
	res, err := k.Ensure(d, full)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return res
}

func wantState(t *testing.T, e env, want string) {
	t.Helper()
	if diff := cmp.Diff(strings.TrimLeft(want, "\n"), e.state(t)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

// TestKeeperLifecycle: start, an unchanged reload, a changed sync ID, a
// daemon stopped by hand, a restart of ipvsd, the section removed.
func TestKeeperLifecycle(t *testing.T) {
	e := newEnv(t)
	k := e.keeper()
	both := Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncMaster, "eth1", 5), daemon(ipvs.SyncBackup, "eth1", 5)}, SloppyTCP: true}
	res := mustEnsure(t, k, both, false)
	if diff := cmp.Diff(Result{Started: []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup}}, res); diff != "" {
		t.Errorf("first Ensure (-want +got):\n%s", diff)
	}
	wantState(t, e, `
running master sync daemon (mcast=eth1, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
running backup sync daemon (mcast=eth1, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
ours    master sync daemon (mcast=eth1, syncid=5)
ours    backup sync daemon (mcast=eth1, syncid=5)
`)
	if got := e.sysctl(t, "sloppy_tcp"); got != "1" {
		t.Errorf("sloppy_tcp = %s, want 1", got)
	}
	if got := e.sysctl(t, "sloppy_sctp"); got != "0" {
		t.Errorf("sloppy_sctp = %s, want 0 (left alone)", got)
	}

	// Unchanged and not a full resync: the kernel is not even read.
	e.kernel.FailNext(errors.New("read the kernel"))
	if res := mustEnsure(t, k, both, false); len(res.Started)+len(res.Stopped) != 0 {
		t.Errorf("unchanged Ensure did %+v", res)
	}
	e.kernel.FailNext(nil)

	// A new sync ID restarts only the master.
	changed := Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncMaster, "eth1", 6), daemon(ipvs.SyncBackup, "eth1", 5)}, SloppyTCP: true}
	res = mustEnsure(t, k, changed, false)
	if diff := cmp.Diff(Result{Started: []ipvs.SyncState{ipvs.SyncMaster}, Stopped: []ipvs.SyncState{ipvs.SyncMaster}}, res); diff != "" {
		t.Errorf("changed sync ID (-want +got):\n%s", diff)
	}

	// Stopped by hand: the next full resync starts it again.
	if err := e.kernel.StopSyncDaemon(ipvs.SyncBackup); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, k, changed, true)
	wantState(t, e, `
running master sync daemon (mcast=eth1, syncid=6, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
running backup sync daemon (mcast=eth1, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
ours    master sync daemon (mcast=eth1, syncid=6)
ours    backup sync daemon (mcast=eth1, syncid=5)
`)

	// A restarted ipvsd reads the record and stops what the config no
	// longer asks for.
	res = mustEnsure(t, e.keeper(), Desired{Daemons: changed.Daemons[:1]}, true)
	if diff := cmp.Diff(Result{Stopped: []ipvs.SyncState{ipvs.SyncBackup}}, res); diff != "" {
		t.Errorf("role dropped (-want +got):\n%s", diff)
	}
	mustEnsure(t, e.keeper(), Desired{}, true)
	wantState(t, e, "")
	if _, err := os.Stat(e.record.Path); !os.IsNotExist(err) {
		t.Errorf("an empty record should be no file: %v", err)
	}
}

// TestKeeperLeavesOthersAlone: a daemon someone else started is never
// stopped, not when ipvsd's config lacks the role, not by cleanup, and not
// when it already is what the config asks for.
func TestKeeperLeavesOthersAlone(t *testing.T) {
	e := newEnv(t)
	if err := e.kernel.StartSyncDaemon(daemon(ipvs.SyncBackup, "eth2", 1)); err != nil {
		t.Fatal(err)
	}
	k := e.keeper()
	mustEnsure(t, k, Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncMaster, "eth1", 1)}}, true)
	// cleanup: an empty Desired from a fresh process.
	res := mustEnsure(t, e.keeper(), Desired{}, true)
	if diff := cmp.Diff(Result{Stopped: []ipvs.SyncState{ipvs.SyncMaster}}, res); diff != "" {
		t.Errorf("cleanup (-want +got):\n%s", diff)
	}
	wantState(t, e, "running backup sync daemon (mcast=eth2, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n")

	// Asked for as it runs: kept, and still not ipvsd's to stop.
	mustEnsure(t, e.keeper(), Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncBackup, "eth2", 1)}}, true)
	mustEnsure(t, e.keeper(), Desired{}, true)
	wantState(t, e, "running backup sync daemon (mcast=eth2, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n")
}

// TestKeeperErrors: a missing interface fails its daemon, named, and the
// rest is still done; a bad record touches nothing.
func TestKeeperErrors(t *testing.T) {
	e := newEnv(t)
	k := e.keeper()
	want := Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncMaster, "nosuch0", 1), daemon(ipvs.SyncBackup, "eth1", 1)}, SloppyTCP: true, SloppySCTP: true}
	res, err := k.Ensure(want, false)
	if !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "starting the master sync daemon on nosuch0 (sync ID 1)") {
		t.Errorf("Ensure = %v; want ENODEV naming the master daemon and nosuch0", err)
	}
	if diff := cmp.Diff(Result{Started: []ipvs.SyncState{ipvs.SyncBackup}}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if e.sysctl(t, "sloppy_tcp") != "1" || e.sysctl(t, "sloppy_sctp") != "1" {
		t.Errorf("sloppy modes not set beside the failure")
	}
	wantState(t, e, `
running backup sync daemon (mcast=eth1, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
ours    backup sync daemon (mcast=eth1, syncid=1)
`)
	// A failed Ensure is retried even when nothing changed.
	e.kernel.SetLink("nosuch0", 1500)
	if res := mustEnsure(t, k, want, false); !cmp.Equal(res.Started, []ipvs.SyncState{ipvs.SyncMaster}) {
		t.Errorf("retry started %v, want the master", res.Started)
	}

	if err := os.WriteFile(e.record.Path, []byte(`{"version":9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.keeper().Ensure(Desired{}, true); err == nil || !strings.Contains(err.Error(), e.record.Path) {
		t.Errorf("Ensure with a bad record = %v; want an error naming it", err)
	}
	if got := e.kernel.Running(); len(got) != 2 {
		t.Errorf("a bad record stopped daemons: running %v", got)
	}
}

// failingStop is the fake kernel refusing to stop daemons.
type failingStop struct {
	k   *ipvstest.SyncDaemons
	err error
}

func (f failingStop) SyncDaemons() ([]ipvs.SyncDaemon, error) { return f.k.SyncDaemons() }
func (f failingStop) StartSyncDaemon(d ipvs.SyncDaemon) error { return f.k.StartSyncDaemon(d) }
func (f failingStop) StopSyncDaemon(ipvs.SyncState) error     { return f.err }

// TestKeeperStopFails: a daemon ipvsd could not stop to restart it with
// a new sync ID still runs as it was started, and the record says so (not
// the sync ID it was to get); the next try restarts it.
func TestKeeperStopFails(t *testing.T) {
	e := newEnv(t)
	old := daemon(ipvs.SyncMaster, "eth1", 1)
	mustEnsure(t, e.keeper(), Desired{Daemons: []ipvs.SyncDaemon{old}}, true)
	busy := errors.New("busy")
	k := New(Deps{Daemons: failingStop{e.kernel, busy}, Record: e.record, ProcSys: e.procSys})
	if _, err := k.Ensure(Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncMaster, "eth1", 2)}}, true); !errors.Is(err, busy) {
		t.Fatalf("Ensure = %v, want the stop's error", err)
	}
	wantState(t, e, `
running master sync daemon (mcast=eth1, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
ours    master sync daemon (mcast=eth1, syncid=1)
`)
	mustEnsure(t, e.keeper(), Desired{Daemons: []ipvs.SyncDaemon{daemon(ipvs.SyncMaster, "eth1", 2)}}, true)
	wantState(t, e, `
running master sync daemon (mcast=eth1, syncid=2, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
ours    master sync daemon (mcast=eth1, syncid=2)
`)
}

package reconciler_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// Both kernels the reconciler runs on, the fake these tests use and the
// real one.
var (
	_ ipvs.Kernel = (*ipvstest.Fake)(nil)
	_ ipvs.Kernel = (*ipvs.Handle)(nil)
)

// env is one fake host: an IPVS table, links, conntrack, a clock and an
// ownership record on disk, with a reconciler that can be "restarted".
type env struct {
	t      *testing.T
	kernel *ipvstest.Fake
	addrs  *reconcilertest.Addresses
	ct     *reconcilertest.Conntrack
	now    time.Time
	cfg    reconciler.Config
	r      *reconciler.Reconciler
	// dumper, when set before restart, takes full resyncs' dumps ahead.
	dumper reconciler.Dumper
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:      t,
		kernel: ipvstest.New(),
		addrs:  reconcilertest.NewAddresses(),
		ct:     reconcilertest.NewConntrack(),
		now:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		cfg:    reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "ipvsd", "state.json")},
	}
	e.restart()
	return e
}

// restart replaces the reconciler with a fresh one on the same host, as a
// new ipvsd process would find it.
func (e *env) restart() {
	e.t.Helper()
	r, err := reconciler.New(e.cfg, reconciler.Deps{
		Kernel:    e.kernel,
		Addresses: e.addrs,
		Conntrack: e.ct,
		Dumper:    e.dumper,
		Now:       func() time.Time { return e.now },
		Log:       zaptest.NewLogger(e.t),
	})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.r = r
}

func (e *env) advance(d time.Duration) { e.now = e.now.Add(d) }

// sync runs one Sync and fails the test on error.
func (e *env) sync(d desired.State) reconciler.Result {
	e.t.Helper()
	return e.ok(e.r.Sync(e.t.Context(), d))
}

// apply runs one Apply and fails the test on error.
func (e *env) apply(u desired.Update) reconciler.Result {
	e.t.Helper()
	return e.ok(e.r.Apply(e.t.Context(), u))
}

// ok fails the test if a Sync or Apply returned an error.
func (e *env) ok(res reconciler.Result, err error) reconciler.Result {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%v\nresult: %s", err, &res)
	}
	return res
}

// syncCounting runs one Sync and returns its result with the kernel's own
// count of the writes (failed ones included) and the netlink dumps during
// it: full dumps and one-service reads alike, as Result.Dumps counts them.
func (e *env) syncCounting(d desired.State) (res reconciler.Result, writes, dumps int) {
	e.t.Helper()
	return e.counting(func() reconciler.Result { return e.sync(d) })
}

// applyCounting is syncCounting for Apply.
func (e *env) applyCounting(u desired.Update) (res reconciler.Result, writes, dumps int) {
	e.t.Helper()
	return e.counting(func() reconciler.Result { return e.apply(u) })
}

func (e *env) counting(run func() reconciler.Result) (res reconciler.Result, writes, dumps int) {
	e.t.Helper()
	e.kernel.ResetCalls()
	res = run()
	return res, e.kernel.Writes(), reads(e.kernel)
}

// reads is the number of full dumps and one-service reads of k.
func reads(k *ipvstest.Fake) int {
	return k.Calls(ipvstest.OpDump) + k.Calls(ipvstest.OpGetDestinations)
}

// state renders the whole fake host: the IPVS table, then the links.
func (e *env) state() string {
	return e.table() + e.addrs.Render()
}

// table renders the fake's IPVS table. It is a Dump of the fake: it counts
// as one and meets injected failures, so read counters before and remove
// failing hooks first.
func (e *env) table() string {
	e.t.Helper()
	return renderTable(e.t, e.kernel)
}

// renderTable prints k's table as `ipvsadm -Ln` lists it, services and
// real servers in key order, without ipvsadm's three heading lines and
// with the blanks that pad its last column trimmed, so goldens hold only
// the table and survive editors.
func renderTable(t *testing.T, k *ipvstest.Fake) string {
	t.Helper()
	dump, err := k.Dump()
	if err != nil {
		t.Fatalf("rendering the IPVS table: %v", err)
	}
	out := ipvs.RenderString(dump, ipvs.RenderOptions{Info: k.Info(), Order: ipvs.OrderKey})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")[3:]
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	return b.String()
}

func (e *env) wantState(want string) {
	e.t.Helper()
	got := e.state()
	want = dedent(want)
	if got != want {
		e.t.Errorf("state:\n%s\nwant:\n%s", got, want)
	}
}

// dedent lets golden text be indented with the test code.
func dedent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimLeft(s, "\n"), "\n") {
		line = strings.TrimLeft(line, "\t")
		if line == "" {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

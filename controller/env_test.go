package controller_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller"
	"github.com/ipvsd/ipvsd/controller/controllertest"
	"github.com/ipvsd/ipvsd/controller/internal/fakekernel"
)

// env is one fake host: an IPVS table, links, conntrack, a clock and an
// ownership record on disk, with a reconciler that can be "restarted".
type env struct {
	t      *testing.T
	kernel *fakekernel.Kernel
	addrs  *controllertest.Addresses
	ct     *controllertest.Conntrack
	now    time.Time
	cfg    controller.Config
	r      *controller.Reconciler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:      t,
		kernel: fakekernel.New(),
		addrs:  controllertest.NewAddresses(),
		ct:     controllertest.NewConntrack(),
		now:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		cfg:    controller.Config{RecordPath: filepath.Join(t.TempDir(), "ipvsd", "state.json")},
	}
	e.restart()
	return e
}

// restart replaces the reconciler with a fresh one on the same host, as a
// new ipvsd process would find it.
func (e *env) restart() {
	e.t.Helper()
	r, err := controller.New(e.cfg, controller.Deps{
		Kernel:    e.kernel,
		Addresses: e.addrs,
		Conntrack: e.ct,
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
func (e *env) sync(d controller.Desired) controller.Result {
	e.t.Helper()
	res, err := e.r.Sync(e.t.Context(), d)
	if err != nil {
		e.t.Fatalf("Sync: %v\nresult: %s", err, &res)
	}
	return res
}

// syncCounting runs one Sync and returns its result with the kernel's own
// count of writes and reads during it.
func (e *env) syncCounting(d controller.Desired) (res controller.Result, writes, dumps int) {
	e.t.Helper()
	e.kernel.ResetCounts()
	res = e.sync(d)
	return res, e.kernel.Writes(), e.kernel.Dumps()
}

// state renders the whole fake host.
func (e *env) state() string {
	return e.kernel.Render() + e.addrs.Render()
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

package standalone

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/runner/runnertest"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestWatcherSeesContentChangesOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	write := func(s string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		// Explicit times: a write within the file system's timestamp
		// granularity must still be seen, via the size or the time.
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1_000_000, 0)
	write("a: 1\n", t0)
	w := newWatcher(path, time.Second, runner.RealClock{}, zaptest.NewLogger(t), []byte("a: 1\n"), nil)
	same := func() {}
	steps := []struct {
		name    string
		do      func()
		changed bool
	}{
		{"nothing", same, false},
		{"touched", func() { write("a: 1\n", t0.Add(time.Second)) }, false},
		{"edited", func() { write("a: 2\n", t0.Add(2*time.Second)) }, false},
		{"unchanged for an interval", same, true},
		{"and after", same, false},
		{"edited again", func() { write("a: 3\n", t0.Add(3*time.Second)) }, false},
		{"put back before it settled", func() { write("a: 2\n", t0.Add(4*time.Second)) }, false},
		{"settled as it was", same, false},
		{"edited, same size", func() { write("a: 4\n", t0.Add(5*time.Second)) }, false},
		{"settled", same, true},
		{"removed", func() { os.Remove(path) }, false},
		{"back, same content", func() { write("a: 4\n", t0.Add(6*time.Second)) }, false},
		{"still the same", same, false},
		{"replaced by rename", func() {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, []byte("a: 33\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"renamed file settled", same, true},
	}
	for _, st := range steps {
		st.do()
		if _, got := w.poll(); got != st.changed {
			t.Fatalf("%s: changed=%v, want %v", st.name, got, st.changed)
		}
	}
}

// TestWatchAppliesOnlyASettledFile runs the real watcher on a fake clock
// against the fake kernel while a file is rewritten in place the way
// `cat >` and many editors do: truncated, then written in pieces. The
// file passes through empty and "cut after its first service" (valid
// YAML, a valid config with one service); neither may delete anything.
// Only the finished file, unchanged for a full poll interval, is applied.
func TestWatchAppliesOnlyASettledFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "standalone.yaml")
	if err := os.WriteFile(path, []byte(twoServices), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := runnertest.NewClock(time.Unix(1_000_000, 0))
	td := newTestDaemonWith(t, twoServices, Options{ConfigPath: path, WatchInterval: time.Second}, clock)
	td.mustSync(t)
	table := func() string {
		t.Helper()
		dump, err := td.kernel.Dump()
		if err != nil {
			t.Fatal(err)
		}
		return ipvs.RenderString(dump, ipvs.RenderOptions{})
	}
	before := table()
	if !strings.Contains(before, "192.0.2.11:443") || !strings.Contains(before, "192.0.2.10:80") {
		t.Fatalf("first sync:\n%s", before)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); td.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	clock.WaitTimer() // the watcher waits for its first poll
	// poll lets one poll interval pass, waits until the watcher has polled
	// (and reloaded, if it did) and syncs the fake kernel.
	poll := func() {
		t.Helper()
		clock.Advance(time.Second)
		clock.WaitTimer()
		td.mustSync(t)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writes := td.kernel.Writes()
	td.takeWrites()
	unchanged := func(step string) {
		t.Helper()
		if got := table(); got != before || td.kernel.Writes() != writes {
			t.Fatalf("%s: the kernel changed (%d writes):\n%s", step, td.kernel.Writes()-writes, got)
		}
	}
	poll()
	unchanged("truncated")
	cut := strings.Index(apiEdited, "  - name: api")
	if _, err := f.WriteString(apiEdited[:cut]); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Parse([]byte(apiEdited[:cut])); err != nil || len(c.Services) != 1 {
		t.Fatalf("the cut file should be a valid config of one service: %v", err)
	}
	poll()
	unchanged("cut after its first service")
	if _, err := f.WriteString(apiEdited[cut:]); err != nil {
		t.Fatal(err)
	}
	poll()
	unchanged("finished, not yet settled")
	poll()
	if w := td.takeWrites(); len(w) != 1 || w[apiKey] != 1 {
		t.Fatalf("settled file: writes %v, want one to api", w)
	}
	if got := td.cfg.Services[1].Backends[1].Weight; len(td.cfg.Services) != 2 || *got != 5 {
		t.Fatalf("settled file not in force: %+v", td.cfg.Services)
	}

	// A writer that stalls after truncating: the empty file settles, is
	// applied, and is rejected, so nothing is lost.
	before, writes = table(), td.kernel.Writes()
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	poll()
	poll()
	unchanged("empty for a whole interval")
	if len(td.cfg.Services) != 2 {
		t.Fatalf("running config lost: %+v", td.cfg.Services)
	}
}

package standalone

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/runner"
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
	steps := []struct {
		name    string
		do      func()
		changed bool
	}{
		{"nothing", func() {}, false},
		{"touched", func() { write("a: 1\n", t0.Add(time.Second)) }, false},
		{"edited", func() { write("a: 2\n", t0.Add(2*time.Second)) }, true},
		{"removed", func() { os.Remove(path) }, false},
		{"back, same content", func() { write("a: 2\n", t0.Add(3*time.Second)) }, false},
		{"replaced by rename", func() {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, []byte("a: 33\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, st := range steps {
		st.do()
		if got := w.poll(); got != st.changed {
			t.Fatalf("%s: changed=%v, want %v", st.name, got, st.changed)
		}
	}
}

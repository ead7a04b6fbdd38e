package standalone

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/runner"
)

// watcher polls a file and calls changed when its content differs from
// what it last saw. Polling (a stat per interval, a read only when the
// size or time changed) needs no inotify dependency and also follows
// editors and config managers that replace the file by renaming a new
// one over it.
type watcher struct {
	path     string
	interval time.Duration
	clock    runner.Clock
	log      *zap.Logger
	changed  func()

	size  int64
	mtime time.Time
	sum   [sha256.Size]byte
}

func newWatcher(path string, interval time.Duration, clock runner.Clock, log *zap.Logger, content []byte, changed func()) *watcher {
	w := &watcher{path: path, interval: interval, clock: clock, log: log, changed: changed, sum: sha256.Sum256(content)}
	if fi, err := os.Stat(path); err == nil {
		w.size, w.mtime = fi.Size(), fi.ModTime()
	}
	return w
}

// run polls until ctx is done.
func (w *watcher) run(ctx context.Context) {
	for {
		t := w.clock.NewTimer(w.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		if w.poll() {
			w.changed()
		}
	}
}

// poll reports whether the file's content changed since the last poll
// that saw it. A missing file is logged once per disappearance and is no
// change: the daemon keeps its config until a file is back.
func (w *watcher) poll() bool {
	fi, err := os.Stat(w.path)
	if err != nil {
		if w.size != -1 {
			lvl := w.log.Warn
			if !errors.Is(err, fs.ErrNotExist) {
				lvl = w.log.Error
			}
			lvl("config file unreadable; keeping the running config", zap.String("path", w.path), zap.Error(err))
			w.size = -1
		}
		return false
	}
	if fi.Size() == w.size && fi.ModTime().Equal(w.mtime) {
		return false
	}
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.log.Error("reading config file", zap.String("path", w.path), zap.Error(err))
		return false
	}
	w.size, w.mtime = fi.Size(), fi.ModTime()
	sum := sha256.Sum256(b)
	if sum == w.sum {
		return false // touched, or rewritten with the same content
	}
	w.sum = sum
	return true
}

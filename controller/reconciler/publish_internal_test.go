package reconciler

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/runstate"
)

// TestPublishSpacedByItsCost: a pending change is written one interval
// after the last write, or publishShare times that write's length when
// that is longer, whether the write was made in the sync or in the
// background.
func TestPublishSpacedByItsCost(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		took time.Duration
		bg   bool
		want time.Duration // wait at t0
	}{
		{"a quick write keeps the interval", 10 * time.Millisecond, false, time.Second},
		{"a slow write spaces the next", 200 * time.Millisecond, false, 4 * time.Second},
		{"the background writer's length counts", 300 * time.Millisecond, true, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := publisher{store: runstate.DesiredStore{Path: filepath.Join(t.TempDir(), "desired.json")},
				interval: time.Second, pending: true, last: t0, took: tc.took}
			if tc.bg {
				p.took = 0
				p.bg = &backgroundWriter{took: tc.took}
			}
			if got := p.wait(t0); got != tc.want {
				t.Errorf("wait right after the write: %s, want %s", got, tc.want)
			}
			if got := p.wait(t0.Add(tc.want)); got != 0 {
				t.Errorf("wait once due: %s, want 0", got)
			}
			if p.due(t0.Add(tc.want - time.Millisecond)) {
				t.Error("due a millisecond early")
			}
		})
	}
}

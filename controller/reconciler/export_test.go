package reconciler

import (
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// NewInMemory is New with the ownership record and the published desired
// state kept in memory (New's Defaults would put them under /run), for
// benchmarks that measure the reconciler without its file writes.
func NewInMemory(cfg Config, deps Deps) (*Reconciler, error) {
	cfg.Defaults()
	cfg.RecordPath = ""
	return newReconciler(cfg, deps)
}

// ModelCopies counts the services whose model keeps its own copy of the
// real servers instead of sharing the desired value's, and the services
// modelled.
func (r *Reconciler) ModelCopies() (copies, services int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.svcs {
		services++
		if !st.shared {
			copies++
		}
	}
	return copies, services
}

// DesiredDests returns the real servers of k's desired value as held
// (the slice itself, not a copy).
func (r *Reconciler) DesiredDests(k ipvs.Key) []ipvs.Destination {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.want.byKey[k]; w != nil && w.vs != nil {
		return w.vs.Destinations
	}
	return nil
}

// PublishInBackgroundAfter sets how long a write of desired.json in the
// sync may take before the writes move to the background, and returns a
// function that puts it back.
func PublishInBackgroundAfter(d time.Duration) (restore func()) {
	old := backgroundAfter
	backgroundAfter = d
	return func() { backgroundAfter = old }
}

// PublishInBackgroundFrom sets from how many desired virtual servers the
// first write of desired.json goes to the background, and returns a
// function that puts it back.
func PublishInBackgroundFrom(n int) (restore func()) {
	old := backgroundFrom
	backgroundFrom = n
	return func() { backgroundFrom = old }
}

// PublishedInBackground reports whether desired.json is written in the
// background, and returns a channel closed when the write under way (or
// the next) ends.
func (r *Reconciler) PublishedInBackground() (bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.publisher.bg
	if w == nil {
		return false, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return true, w.idle
}

// WaitPublished waits until the background writer, if any, has written
// everything handed to it.
func (r *Reconciler) WaitPublished() {
	r.mu.Lock()
	w := r.publisher.bg
	r.mu.Unlock()
	for w != nil {
		w.mu.Lock()
		idle, done := w.idle, w.next == nil && !w.busy
		w.mu.Unlock()
		if done {
			return
		}
		<-idle
	}
}

// SliceDests is the sweep's slice size, in real servers.
const SliceDests = sliceDests

package ipvstest

import "github.com/ipvsd/ipvsd/ipvs"

var _ ipvs.Batcher = (*Fake)(nil)

// Apply carries out ws in order through the single calls, so each write
// is checked, counted, hooked and fails exactly as it would alone: the
// kernel too processes and acks every request of a batch, a failed one
// included. It counts one batch.
func (f *Fake) Apply(ws []ipvs.Write) []error {
	f.mu.Lock()
	f.batches++
	f.mu.Unlock()
	return ipvs.ApplyEach(f, ws)
}

// Batches returns how many times Apply was called.
func (f *Fake) Batches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.batches
}

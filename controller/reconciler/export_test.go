package reconciler

// NewInMemory is New with the ownership record and the published desired
// state kept in memory (New's Defaults would put them under /run), for
// benchmarks that measure the reconciler without its file writes.
func NewInMemory(cfg Config, deps Deps) (*Reconciler, error) {
	cfg.Defaults()
	cfg.RecordPath = ""
	return newReconciler(cfg, deps)
}

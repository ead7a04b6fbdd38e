package dataplanetest

import (
	"context"
	"sync"

	"github.com/ipvsd/ipvsd/controller/firewall"
)

// Firewall keeps the last desired state it was given and counts calls.
type Firewall struct {
	mu     sync.Mutex
	last   firewall.Desired
	syncs  int
	checks int
	// Err, when set, is returned by every call (after recording it).
	Err error
}

// Sync implements dataplane.Firewall.
func (f *Firewall) Sync(_ context.Context, d firewall.Desired) (firewall.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last, f.syncs = d, f.syncs+1
	return firewall.Result{}, f.Err
}

// Check implements dataplane.Firewall: a Sync that is counted as a check.
func (f *Firewall) Check(ctx context.Context, d firewall.Desired) (firewall.Result, error) {
	f.mu.Lock()
	f.checks++
	f.mu.Unlock()
	return f.Sync(ctx, d)
}

// Last returns the last desired state given.
func (f *Firewall) Last() firewall.Desired {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// Calls returns how many syncs (checks included) and checks were made.
func (f *Firewall) Calls() (syncs, checks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs, f.checks
}

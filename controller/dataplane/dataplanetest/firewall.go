package dataplanetest

import (
	"context"
	"sync"

	"github.com/ipvsd/ipvsd/controller/firewall"
)

// Firewall keeps the state its updates build, as the real one does, and
// counts calls.
type Firewall struct {
	mu      sync.Mutex
	state   firewall.State
	applies int
	repairs int
	// Err, when set, is returned by every call (after recording it).
	Err error
}

// Apply implements dataplane.Firewall.
func (f *Firewall) Apply(_ context.Context, u firewall.Update) (firewall.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state.Apply(u)
	f.applies++
	return firewall.Result{}, f.Err
}

// Repair implements dataplane.Firewall: an Apply that is counted as a
// repair.
func (f *Firewall) Repair(ctx context.Context, u firewall.Update) (firewall.Result, error) {
	f.mu.Lock()
	f.repairs++
	f.mu.Unlock()
	return f.Apply(ctx, u)
}

// Last returns the whole state the updates built.
func (f *Firewall) Last() firewall.Desired {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Desired()
}

// Calls returns how many updates (repairs included) and repairs were
// made.
func (f *Firewall) Calls() (applies, repairs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies, f.repairs
}

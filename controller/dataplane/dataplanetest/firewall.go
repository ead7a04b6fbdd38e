package dataplanetest

import (
	"context"
	"reflect"
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
	// changing counts the updates that change something: parts, or
	// options unlike the last (what makes the real one write).
	changing int
	// Err, when set, is returned by every call (after recording it).
	Err error
}

// Apply implements dataplane.Firewall.
func (f *Firewall) Apply(_ context.Context, u firewall.Update) (firewall.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changes(u) {
		f.changing++
	}
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

// changes reports whether u changes the state: options unlike the last,
// or a part unlike the one held (an empty part for a service not held
// changes nothing).
func (f *Firewall) changes(u firewall.Update) bool {
	if !reflect.DeepEqual(u.Options, f.state.Options) {
		return true
	}
	if u.Whole && len(u.Parts) != len(f.state.Parts) {
		return true
	}
	for name, p := range u.Parts {
		if old := f.state.Parts[name]; !(p.Empty() && old.Empty()) && !reflect.DeepEqual(p, old) {
			return true
		}
	}
	return false
}

// Changing returns how many updates changed something: parts, or options
// unlike the last.
func (f *Firewall) Changing() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changing
}

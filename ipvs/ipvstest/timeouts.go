package ipvstest

import (
	"sync"
	"syscall"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Timeouts is a fake ipvs.TimeoutConfig that behaves as the kernel: it
// starts at the kernel's defaults, a zero in a write keeps that value, a
// negative one or one past the kernel's limit is EINVAL, and a test can
// make the next call fail.
type Timeouts struct {
	mu   sync.Mutex
	t    ipvs.Timeouts
	sets int
	fail error
}

var _ ipvs.TimeoutConfig = (*Timeouts)(nil)

// NewTimeouts returns the fake with the kernel's defaults.
func NewTimeouts() *Timeouts { return &Timeouts{t: ipvs.KernelDefaultTimeouts} }

// maxTimeout is the kernel's bound (INT_MAX jiffies at HZ=1000, in
// seconds, as ip_vs_set_timeout checks it).
const maxTimeout = (1<<31 - 1) / 1000 * time.Second

// Timeouts returns the current values.
func (f *Timeouts) Timeouts() (ipvs.Timeouts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFailure(); err != nil {
		return ipvs.Timeouts{}, err
	}
	return f.t, nil
}

// SetTimeouts merges t's non-zero values.
func (f *Timeouts) SetTimeouts(t ipvs.Timeouts) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets++
	if err := f.takeFailure(); err != nil {
		return err
	}
	for _, d := range []time.Duration{t.TCP, t.TCPFin, t.UDP} {
		if d < 0 || d > maxTimeout {
			return syscall.EINVAL
		}
	}
	f.t = f.t.Merge(t)
	return nil
}

// Sets counts SetTimeouts calls, failed ones included.
func (f *Timeouts) Sets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sets
}

// FailNext makes the next call return err.
func (f *Timeouts) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *Timeouts) takeFailure() error {
	err := f.fail
	f.fail = nil
	return err
}

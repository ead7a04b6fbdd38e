package reconcilertest

import (
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// Effect is what a faulty netlink request did to the table.
type Effect int

const (
	// Refused: the kernel answered with an errno and changed nothing
	// (EBUSY, ENOMEM, ...).
	Refused Effect = iota
	// Applied: the kernel carried the request out but its reply was lost;
	// the caller sees the receive timeout (EAGAIN) and cannot tell.
	Applied
	// Dropped: the request was lost before the kernel saw it; the caller
	// sees the same receive timeout.
	Dropped
	// Gone: another program removed the object just before the request,
	// so the kernel answers as it does for a missing one (ENOENT for a
	// real server, ESRCH for a virtual server).
	Gone
)

var effectNames = [...]string{"refused", "applied, reply lost", "dropped", "gone"}

func (e Effect) String() string {
	if e < 0 || int(e) >= len(effectNames) {
		return fmt.Sprintf("Effect(%d)", int(e))
	}
	return effectNames[e]
}

// Fault makes matching calls fail.
type Fault struct {
	Op ipvstest.Op
	// Service is the virtual server the call is about; the zero Key
	// matches any.
	Service ipvs.Key
	// Dest is the real server of a real-server call; the zero DestKey
	// matches any.
	Dest   ipvs.DestKey
	Effect Effect
	// Err is the errno of a Refused call; the others have theirs.
	Err error
	// Times is how many matching calls fail; 0 means every one until
	// Clear.
	Times int
}

// Faults is an ipvs.Kernel that injects netlink faults in front of
// another, normally the stateful ipvstest.Fake: what the kernel would have
// done happens (or does not) to that table, and the caller gets the error
// the real handle would return. It is safe for concurrent use.
type Faults struct {
	kernel *ipvstest.Fake
	mu     sync.Mutex
	faults []*Fault
	hits   map[ipvs.Key]int
}

var _ ipvs.Kernel = (*Faults)(nil)

// NewFaults puts a fault injector in front of k.
func NewFaults(k *ipvstest.Fake) *Faults {
	return &Faults{kernel: k, hits: map[ipvs.Key]int{}}
}

// Inject adds f; faults are matched in the order they were added.
func (f *Faults) Inject(flt Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	flt.Service = flt.Service.Canonical()
	f.faults = append(f.faults, &flt)
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Hits counts the faulty calls about virtual server k so far.
func (f *Faults) Hits(k ipvs.Key) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[k.Canonical()]
}

// match returns the fault for a call, consuming one of its Times.
func (f *Faults) match(op ipvstest.Op, k ipvs.Key, dk ipvs.DestKey) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	for i, flt := range f.faults {
		if flt.Op != op || (flt.Service != ipvs.Key{} && flt.Service != k) || (flt.Dest != ipvs.DestKey{} && flt.Dest != dk) {
			continue
		}
		if flt.Times > 0 {
			if flt.Times--; flt.Times == 0 {
				f.faults = slices.Delete(f.faults, i, i+1)
			}
		}
		f.hits[k]++
		return flt
	}
	return nil
}

// errReplyLost is what the real handle returns when its receive timeout
// (SO_RCVTIMEO) passes without a reply.
var errReplyLost = fmt.Errorf("receiving netlink reply: %w", unix.EAGAIN)

// write runs one write through the faults: do is the write on the table,
// undo removes the object for Gone.
func (f *Faults) write(op ipvstest.Op, k ipvs.Key, dk ipvs.DestKey, do func() error, gone func() error) error {
	flt := f.match(op, k, dk)
	if flt == nil {
		return do()
	}
	switch flt.Effect {
	case Applied:
		if err := do(); err != nil {
			return err // the kernel refused it: that reply came back
		}
		return errReplyLost
	case Dropped:
		return errReplyLost
	case Gone:
		if err := gone(); err != nil {
			return fmt.Errorf("fault: removing %s first: %w", k, err)
		}
		return do()
	default:
		return flt.Err
	}
}

// Dump implements ipvs.Kernel; reads are not faulted.
func (f *Faults) Dump() ([]ipvs.ServiceWithDests, error) { return f.kernel.Dump() }

// GetDestinations implements ipvs.Kernel; reads are not faulted.
func (f *Faults) GetDestinations(k ipvs.Key) ([]ipvs.DestinationState, error) {
	return f.kernel.GetDestinations(k)
}

func (f *Faults) AddService(s ipvs.Service) error {
	return f.write(ipvstest.OpAddService, s.Key, ipvs.DestKey{}, func() error { return f.kernel.AddService(s) }, noop)
}

func (f *Faults) UpdateService(s ipvs.Service) error {
	return f.write(ipvstest.OpUpdateService, s.Key, ipvs.DestKey{}, func() error { return f.kernel.UpdateService(s) },
		func() error { return f.kernel.DeleteService(s.Key) })
}

func (f *Faults) DeleteService(k ipvs.Key) error {
	return f.write(ipvstest.OpDeleteService, k, ipvs.DestKey{}, func() error { return f.kernel.DeleteService(k) },
		func() error { return f.kernel.DeleteService(k) })
}

func (f *Faults) AddDestination(k ipvs.Key, d ipvs.Destination) error {
	return f.write(ipvstest.OpAddDestination, k, d.DestKey, func() error { return f.kernel.AddDestination(k, d) }, noop)
}

func (f *Faults) UpdateDestination(k ipvs.Key, d ipvs.Destination) error {
	return f.write(ipvstest.OpUpdateDestination, k, d.DestKey, func() error { return f.kernel.UpdateDestination(k, d) },
		func() error { return f.kernel.DeleteDestination(k, d.DestKey) })
}

func (f *Faults) DeleteDestination(k ipvs.Key, dk ipvs.DestKey) error {
	return f.write(ipvstest.OpDeleteDestination, k, dk, func() error { return f.kernel.DeleteDestination(k, dk) },
		func() error { return f.kernel.DeleteDestination(k, dk) })
}

// noop is Gone for an add: there is nothing to remove first.
func noop() error { return nil }

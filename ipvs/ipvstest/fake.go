package ipvstest

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Op names a Kernel method, for counting calls and injecting failures.
type Op int

const (
	OpDump Op = iota
	OpGetDestinations
	OpAddService
	OpUpdateService
	OpDeleteService
	OpAddDestination
	OpUpdateDestination
	OpDeleteDestination
	numOps
)

var opNames = [numOps]string{"Dump", "GetDestinations", "AddService", "UpdateService", "DeleteService",
	"AddDestination", "UpdateDestination", "DeleteDestination"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// IsWrite reports whether the operation changes the table.
func (o Op) IsWrite() bool { return o >= OpAddService && o < numOps }

// Hook is called under the fake's lock before every operation, with the
// service key and (for real server operations) the real server; a non-nil
// error fails the call without changing state. key is the zero Key for
// Dump; dest is the zero DestKey for service operations and
// GetDestinations.
type Hook func(op Op, key ipvs.Key, dest ipvs.DestKey) error

// Fake is an in-memory Kernel. It keeps the table the way the kernel would
// list it back (see ipvs.Service.Canonical), refuses what the kernel
// refuses with the same errno, counts every call, and lets a test inject
// failures and set the counters only traffic could change. It is safe for
// concurrent use.
//
// Unlike the kernel, Dump lists services in key order and real servers (there
// and in GetDestinations) in address order, so tests see a stable table.
type Fake struct {
	mu       sync.Mutex
	services map[ipvs.Key]*fakeService
	calls    [numOps]int
	batches  int
	failures []failure
	hook     Hook
	info     ipvs.Info
	// skip are left out of the next Dump (SkipInNextDump).
	skip map[ipvs.Key]bool
}

type fakeService struct {
	svc   ipvs.Service
	stats ipvs.Stats
	dests map[ipvs.DestKey]*ipvs.DestinationState
}

type failure struct {
	op  Op
	key ipvs.Key
	err error
}

var _ ipvs.Kernel = (*Fake)(nil)

// New returns an empty fake that reports the IPVS version of the kernels
// we test against (1.2.1, a 4096-entry connection table).
func New() *Fake {
	return &Fake{
		services: map[ipvs.Key]*fakeService{},
		info:     ipvs.Info{Version: 0x010201, ConnTabSize: 4096},
	}
}

// Schedulers are the scheduler names the fake accepts: those of the
// kernel the lab runs (Debian 12's 6.1), and "none". Any other name fails
// with ENOENT, as it does in the kernel when no module ip_vs_NAME can be
// loaded. twos arrived in 6.2: append it to model a newer kernel.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh",
	"sed", "nq", "mh", "fo", "ovf", "none"}

// PersistenceEngines are the persistence engine names the fake accepts.
var PersistenceEngines = []string{"sip"}

// Info returns the IPVS version and table size the fake reports.
func (f *Fake) Info() ipvs.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info
}

// Calls returns how many times op was called, failed calls included.
func (f *Fake) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Writes returns how many write calls were made, failed ones included.
func (f *Fake) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for op := range numOps {
		if op.IsWrite() {
			n += f.calls[op]
		}
	}
	return n
}

// ResetCalls zeroes the call counters (the table is kept).
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = [numOps]int{}
	f.batches = 0
}

// FailNext makes the next call of op on key fail with err (wrapped as the
// real handle wraps kernel errors) without changing state. Failures queue
// up: each matching call consumes one. For Dump, key is ignored; for
// GetDestinations it names the service read.
func (f *Fake) FailNext(op Op, key ipvs.Key, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, failure{op: op, key: key.Canonical(), err: err})
}

// SkipInNextDump leaves keys out of the next Dump, as the kernel does when
// a service dump that spans several replies meets services added or
// removed in another network namespace: it resumes by counting every
// namespace's services, so it skips some of this one's.
func (f *Fake) SkipInNextDump(keys ...ipvs.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skip = map[ipvs.Key]bool{}
	for _, k := range keys {
		f.skip[k.Canonical()] = true
	}
}

// SetHook installs h (nil removes it); it runs after injected failures.
func (f *Fake) SetHook(h Hook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// begin counts a call and returns an injected failure, if any. Callers
// hold the lock.
func (f *Fake) begin(op Op, key ipvs.Key, dk ipvs.DestKey) error {
	f.calls[op]++
	for i, fl := range f.failures {
		if fl.op == op && (op == OpDump || fl.key == key) {
			f.failures = slices.Delete(f.failures, i, i+1)
			return fl.err
		}
	}
	if f.hook != nil {
		return f.hook(op, key, dk)
	}
	return nil
}

// GetDestinations returns a copy of one service's real servers in address
// order; ESRCH if the service does not exist.
func (f *Fake) GetDestinations(k ipvs.Key) ([]ipvs.DestinationState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	ds, err := f.getDestinations(k)
	if err != nil {
		return nil, fmt.Errorf("listing real servers of %s: %w", k, err)
	}
	return ds, nil
}

func (f *Fake) getDestinations(k ipvs.Key) ([]ipvs.DestinationState, error) {
	if err := f.begin(OpGetDestinations, k, ipvs.DestKey{}); err != nil {
		return nil, err
	}
	if err := ipvs.ValidateService(ipvs.Service{Key: k}); err != nil {
		return nil, err
	}
	fs, ok := f.services[k]
	if !ok {
		return nil, unix.ESRCH
	}
	return fs.sortedDests(), nil
}

// Dump returns a deep copy of the table.
func (f *Fake) Dump() ([]ipvs.ServiceWithDests, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpDump, ipvs.Key{}, ipvs.DestKey{}); err != nil {
		return nil, fmt.Errorf("listing virtual servers: %w", err)
	}
	keys := make([]ipvs.Key, 0, len(f.services))
	for k := range f.services {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, ipvs.Key.Compare)
	out := make([]ipvs.ServiceWithDests, 0, len(keys))
	skip := f.skip
	f.skip = nil
	for _, k := range keys {
		if skip[k] {
			continue
		}
		fs := f.services[k]
		out = append(out, ipvs.ServiceWithDests{Service: fs.svc, Stats: fs.stats, Destinations: fs.sortedDests()})
	}
	return out, nil
}

// DumpEach is Dump streamed, as ipvs.Handle.DumpEachForSync: each is
// called with every service, without the fake's lock held. As the real
// one reuses its buffer, the fake overwrites each service's real servers
// once each returns, so a caller that keeps them instead of copying them
// finds garbage, as it would on the kernel.
func (f *Fake) DumpEach(each func(s *ipvs.ServiceWithDests) error) error {
	dump, err := f.Dump()
	if err != nil {
		return err
	}
	for i := range dump {
		err := each(&dump[i])
		for j := range dump[i].Destinations {
			dump[i].Destinations[j] = ipvs.DestinationState{}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Counters implements ipvs.CounterReader in key order. It fails where Dump
// does (a failure injected for OpDump fails it too): the kernel reads
// both with the same service dump.
func (f *Fake) Counters() ([]ipvs.ServiceCounters, error) {
	dump, err := f.Dump()
	if err != nil {
		return nil, err
	}
	out := make([]ipvs.ServiceCounters, len(dump))
	for i := range dump {
		out[i] = dump[i].Counters()
	}
	return out, nil
}

// sortedDests copies the service's real servers in address order.
func (fs *fakeService) sortedDests() []ipvs.DestinationState {
	ds := make([]ipvs.DestinationState, 0, len(fs.dests))
	for _, d := range fs.dests {
		ds = append(ds, *d)
	}
	slices.SortFunc(ds, func(a, b ipvs.DestinationState) int { return a.DestKey.Compare(b.DestKey) })
	return ds
}

// checkService makes the kernel's checks on a full service specification:
// our encoding's (family, netmask), then scheduler and persistence engine
// lookup.
func checkService(s ipvs.Service) error {
	if err := ipvs.ValidateService(s); err != nil {
		return err
	}
	if !slices.Contains(Schedulers, s.Scheduler) {
		return fmt.Errorf("scheduler %q not found: %w", s.Scheduler, unix.ENOENT)
	}
	if s.PEName != "" && !slices.Contains(PersistenceEngines, s.PEName) {
		return fmt.Errorf("persistence engine %q not found: %w", s.PEName, unix.ENOENT)
	}
	return nil
}

// checkDestLimits is the kernel's first check on a real server to add or
// edit: a negative weight or a lower threshold above the upper one is
// ERANGE.
func checkDestLimits(d ipvs.Destination) error {
	if d.Weight < 0 {
		return fmt.Errorf("weight %d: %w", d.Weight, unix.ERANGE)
	}
	if d.LowerThreshold > d.UpperThreshold {
		return fmt.Errorf("lower threshold %d above upper threshold %d: %w", d.LowerThreshold, d.UpperThreshold, unix.ERANGE)
	}
	return nil
}

// checkUnicast is the kernel's check on a new real server's address: it
// must be unicast (or local). The fake knows no local addresses, so it
// refuses exactly what is never unicast: the unspecified and zero-network
// addresses, the limited broadcast, multicast, and IPv6 link-local.
func checkUnicast(a netip.Addr) error {
	bad := a.IsUnspecified() || a.IsMulticast() || (a.Is6() && a.IsLinkLocalUnicast())
	if a.Is4() {
		b := a.As4()
		bad = bad || b[0] == 0 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	if bad {
		return fmt.Errorf("address %s is not unicast: %w", a, unix.EINVAL)
	}
	return nil
}

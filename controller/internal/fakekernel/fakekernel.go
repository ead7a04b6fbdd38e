// Package fakekernel is a minimal stateful, in-memory ipvs.Kernel for the
// controller's tests, standing in until ipvs/ipvstest lands. It fails where
// the kernel fails: EEXIST for adding what exists, ESRCH for a missing
// service, ENOENT for a missing real server.
package fakekernel

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Kernel is the fake IPVS table.
type Kernel struct {
	mu   sync.Mutex
	svcs map[ipvs.Key]*service
	// Writes counts successful writes; Dumps counts Dump and
	// GetDestinations calls.
	writes, dumps int
	// fail, when set, is asked before each write; a non-nil error fails
	// it without changing state. op is the method name.
	fail func(op string, k ipvs.Key, d ipvs.DestKey) error
}

type service struct {
	svc   ipvs.Service
	dests map[ipvs.DestKey]ipvs.Destination
}

// New returns an empty table.
func New() *Kernel { return &Kernel{svcs: map[ipvs.Key]*service{}} }

// SetFail installs (or, with nil, removes) a failure hook.
func (k *Kernel) SetFail(f func(op string, key ipvs.Key, d ipvs.DestKey) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail = f
}

// Writes returns the number of successful writes so far.
func (k *Kernel) Writes() int { k.mu.Lock(); defer k.mu.Unlock(); return k.writes }

// Dumps returns the number of reads so far.
func (k *Kernel) Dumps() int { k.mu.Lock(); defer k.mu.Unlock(); return k.dumps }

// ResetCounts zeroes Writes and Dumps.
func (k *Kernel) ResetCounts() { k.mu.Lock(); defer k.mu.Unlock(); k.writes, k.dumps = 0, 0 }

// SetConns sets a real server's connection counts, as traffic would.
func (k *Kernel) SetConns(key ipvs.Key, dk ipvs.DestKey, active, inactive uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.svcs[key]
	if !ok {
		return unix.ESRCH
	}
	d, ok := s.dests[dk]
	if !ok {
		return unix.ENOENT
	}
	d.ActiveConns, d.InactiveConns = active, inactive
	s.dests[dk] = d
	return nil
}

func (k *Kernel) check(op string, key ipvs.Key, dk ipvs.DestKey) error {
	if k.fail == nil {
		return nil
	}
	return k.fail(op, key, dk)
}

// Dump implements ipvs.Kernel.
func (k *Kernel) Dump() ([]ipvs.ServiceWithDests, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dumps++
	if err := k.check("Dump", ipvs.Key{}, ipvs.DestKey{}); err != nil {
		return nil, err
	}
	out := make([]ipvs.ServiceWithDests, 0, len(k.svcs))
	for _, key := range slices.SortedFunc(maps.Keys(k.svcs), cmpKey) {
		s := k.svcs[key]
		out = append(out, ipvs.ServiceWithDests{Service: s.svc, Destinations: s.sortedDests()})
	}
	return out, nil
}

// GetDestinations reads one service's real servers.
func (k *Kernel) GetDestinations(key ipvs.Key) ([]ipvs.Destination, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dumps++
	s, ok := k.svcs[key]
	if !ok {
		return nil, fmt.Errorf("fake: %s: %w", key, unix.ESRCH)
	}
	return s.sortedDests(), nil
}

// AddService implements ipvs.Kernel.
func (k *Kernel) AddService(s ipvs.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check("AddService", s.Key, ipvs.DestKey{}); err != nil {
		return err
	}
	if _, ok := k.svcs[s.Key]; ok {
		return fmt.Errorf("fake: %s: %w", s.Key, unix.EEXIST)
	}
	k.svcs[s.Key] = &service{svc: kernelForm(s), dests: map[ipvs.DestKey]ipvs.Destination{}}
	k.writes++
	return nil
}

// UpdateService implements ipvs.Kernel.
func (k *Kernel) UpdateService(s ipvs.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check("UpdateService", s.Key, ipvs.DestKey{}); err != nil {
		return err
	}
	cur, ok := k.svcs[s.Key]
	if !ok {
		return fmt.Errorf("fake: %s: %w", s.Key, unix.ESRCH)
	}
	cur.svc = kernelForm(s)
	k.writes++
	return nil
}

// DeleteService implements ipvs.Kernel.
func (k *Kernel) DeleteService(key ipvs.Key) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check("DeleteService", key, ipvs.DestKey{}); err != nil {
		return err
	}
	if _, ok := k.svcs[key]; !ok {
		return fmt.Errorf("fake: %s: %w", key, unix.ESRCH)
	}
	delete(k.svcs, key)
	k.writes++
	return nil
}

// AddDestination implements ipvs.Kernel.
func (k *Kernel) AddDestination(key ipvs.Key, d ipvs.Destination) error {
	return k.destOp("AddDestination", key, d, func(s *service, exists bool) error {
		if exists {
			return unix.EEXIST
		}
		s.dests[d.DestKey] = writable(d)
		return nil
	})
}

// UpdateDestination implements ipvs.Kernel.
func (k *Kernel) UpdateDestination(key ipvs.Key, d ipvs.Destination) error {
	return k.destOp("UpdateDestination", key, d, func(s *service, exists bool) error {
		if !exists {
			return unix.ENOENT
		}
		cur := s.dests[d.DestKey]
		w := writable(d)
		w.ActiveConns, w.InactiveConns = cur.ActiveConns, cur.InactiveConns
		s.dests[d.DestKey] = w
		return nil
	})
}

// DeleteDestination implements ipvs.Kernel.
func (k *Kernel) DeleteDestination(key ipvs.Key, dk ipvs.DestKey) error {
	return k.destOp("DeleteDestination", key, ipvs.Destination{DestKey: dk}, func(s *service, exists bool) error {
		if !exists {
			return unix.ENOENT
		}
		delete(s.dests, dk)
		return nil
	})
}

func (k *Kernel) destOp(op string, key ipvs.Key, d ipvs.Destination, f func(*service, bool) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check(op, key, d.DestKey); err != nil {
		return err
	}
	s, ok := k.svcs[key]
	if !ok {
		return fmt.Errorf("fake: %s: %w", key, unix.ESRCH)
	}
	_, exists := s.dests[d.DestKey]
	if err := f(s, exists); err != nil {
		return fmt.Errorf("fake: %s -> %s: %w", key, d.DestKey, err)
	}
	k.writes++
	return nil
}

// Render prints the table sorted, one line per service and real server,
// in the spirit of ipvsadm -Ln, with connection counts.
func (k *Kernel) Render() string {
	dump, _ := k.dumpNoCount()
	var b strings.Builder
	for _, s := range dump {
		fmt.Fprintf(&b, "%s %s", s.Key, s.Scheduler)
		if s.Timeout != 0 {
			fmt.Fprintf(&b, " persistent %d", s.Timeout)
		}
		if f := s.Flags &^ ipvs.FlagPersistent; f != 0 {
			fmt.Fprintf(&b, " flags %#x", uint32(f))
		}
		b.WriteString("\n")
		for _, d := range s.Destinations {
			fmt.Fprintf(&b, "  -> %s %s %d %d %d\n", d.DestKey, d.Forwarding, d.Weight, d.ActiveConns, d.InactiveConns)
		}
	}
	return b.String()
}

func (k *Kernel) dumpNoCount() ([]ipvs.ServiceWithDests, error) {
	k.mu.Lock()
	f := k.fail
	k.fail = nil
	k.mu.Unlock()
	out, err := k.Dump()
	k.mu.Lock()
	k.fail = f
	k.dumps--
	k.mu.Unlock()
	return out, err
}

func (s *service) sortedDests() []ipvs.Destination {
	ds := slices.Collect(maps.Values(s.dests))
	slices.SortFunc(ds, func(a, b ipvs.Destination) int {
		if a.DestKey.Less(b.DestKey) {
			return -1
		}
		if b.DestKey.Less(a.DestKey) {
			return 1
		}
		return 0
	})
	return ds
}

// kernelForm stores a service the way the kernel reports it back: no
// stats, a zero netmask widened to the family's length, and the persistent
// flag set exactly when there is a timeout.
func kernelForm(s ipvs.Service) ipvs.Service {
	s.Stats = ipvs.Stats{}
	if s.Netmask == 0 {
		s.Netmask = 32
		if s.Family == ipvs.IPv6 {
			s.Netmask = 128
		}
	}
	if s.Timeout != 0 {
		s.Flags |= ipvs.FlagPersistent
	} else {
		s.Flags &^= ipvs.FlagPersistent
	}
	return s
}

func writable(d ipvs.Destination) ipvs.Destination {
	return ipvs.Destination{DestKey: d.DestKey, Weight: d.Weight, Forwarding: d.Forwarding,
		UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold}
}

func cmpKey(a, b ipvs.Key) int {
	if a.Less(b) {
		return -1
	}
	if b.Less(a) {
		return 1
	}
	return 0
}

package ipvstest

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// The setters below change what only traffic changes in a real kernel.
// They are not Kernel calls: they are not counted and never fail by
// injection. They fail with ESRCH or ENOENT when the service or real
// server does not exist.

// SetConns sets a real server's active and inactive connection counts, to
// simulate traffic or a drain in progress.
func (f *Fake) SetConns(k ipvs.Key, dk ipvs.DestKey, active, inactive uint32) error {
	return f.withDest(k, dk, func(d *ipvs.DestinationState) {
		d.ActiveConns, d.InactiveConns = active, inactive
	})
}

// SetPersistConns sets a real server's persistent connection count.
func (f *Fake) SetPersistConns(k ipvs.Key, dk ipvs.DestKey, n uint32) error {
	return f.withDest(k, dk, func(d *ipvs.DestinationState) { d.PersistConns = n })
}

// SetDestStats sets a real server's counters.
func (f *Fake) SetDestStats(k ipvs.Key, dk ipvs.DestKey, s ipvs.Stats) error {
	return f.withDest(k, dk, func(d *ipvs.DestinationState) { d.Stats = &s })
}

// SetServiceStats sets a service's counters.
func (f *Fake) SetServiceStats(k ipvs.Key, s ipvs.Stats) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	fs, ok := f.services[k]
	if !ok {
		return fmt.Errorf("setting stats of %s: %w", k, unix.ESRCH)
	}
	fs.stats = s
	return nil
}

func (f *Fake) withDest(k ipvs.Key, dk ipvs.DestKey, set func(*ipvs.DestinationState)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	dk.Address = dk.Address.Unmap()
	fs, ok := f.services[k]
	if !ok {
		return fmt.Errorf("real server %s of %s: %w", dk, k, unix.ESRCH)
	}
	d, ok := fs.dests[dk]
	if !ok {
		return fmt.Errorf("real server %s of %s: %w", dk, k, unix.ENOENT)
	}
	set(d)
	return nil
}

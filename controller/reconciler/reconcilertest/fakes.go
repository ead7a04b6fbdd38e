package reconcilertest

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/reconciler"
)

// Addresses fakes the host's links: ipvsd's dummy link and "other" links
// holding addresses configured by someone else.
type Addresses struct {
	mu     sync.Mutex
	dummy  map[netip.Addr]bool
	other  map[netip.Addr]bool
	writes int
	calls  int
	lists  int
	// Fail, when non-nil, is asked before each write.
	Fail func(op string, a netip.Addr) error
}

// NewAddresses returns links with no addresses.
func NewAddresses() *Addresses {
	return &Addresses{dummy: map[netip.Addr]bool{}, other: map[netip.Addr]bool{}}
}

// AddOther puts an address on another interface, as an administrator would.
func (f *Addresses) AddOther(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.other[a] = true
}

// AddDummy puts an address on the dummy link behind ipvsd's back.
func (f *Addresses) AddDummy(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dummy[a] = true
}

// RemoveDummy removes an address from the dummy link behind ipvsd's back.
func (f *Addresses) RemoveDummy(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.dummy, a)
}

// Writes counts the addresses AddAddresses and DelAddresses changed.
func (f *Addresses) Writes() int { f.mu.Lock(); defer f.mu.Unlock(); return f.writes }

// Calls counts AddAddresses and DelAddresses calls: batches, not
// addresses.
func (f *Addresses) Calls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// Addresses returns the addresses on the dummy link.
func (f *Addresses) Addresses() (map[netip.Addr]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.dummy), nil
}

// Lists counts ListAddresses calls.
func (f *Addresses) Lists() int { f.mu.Lock(); defer f.mu.Unlock(); return f.lists }

// ListAddresses implements reconciler.AddressBinder; Fail is asked with op
// "list" and the zero address first.
func (f *Addresses) ListAddresses() (reconciler.AddressListing, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.Fail != nil {
		if err := f.Fail("list", netip.Addr{}); err != nil {
			return reconciler.AddressListing{}, err
		}
	}
	return reconciler.AddressListing{OnLink: maps.Clone(f.dummy), Elsewhere: maps.Clone(f.other)}, nil
}

// AddAddresses implements reconciler.AddressBinder: each address on its
// own, as the kernel answers each request of a batch.
func (f *Addresses) AddAddresses(as []netip.Addr) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	errs := make([]error, len(as))
	for i, a := range as {
		errs[i] = f.addLocked(a)
	}
	return errs
}

func (f *Addresses) addLocked(a netip.Addr) error {
	if f.Fail != nil {
		if err := f.Fail("add", a); err != nil {
			return err
		}
	}
	if f.dummy[a] {
		return fmt.Errorf("fake: address %s: %w", a, unix.EEXIST)
	}
	f.dummy[a] = true
	f.writes++
	return nil
}

// DelAddresses implements reconciler.AddressBinder, each address on its
// own.
func (f *Addresses) DelAddresses(as []netip.Addr) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	errs := make([]error, len(as))
	for i, a := range as {
		errs[i] = f.delLocked(a)
	}
	return errs
}

func (f *Addresses) delLocked(a netip.Addr) error {
	if f.Fail != nil {
		if err := f.Fail("del", a); err != nil {
			return err
		}
	}
	if !f.dummy[a] {
		return fmt.Errorf("fake: address %s: %w", a, unix.EADDRNOTAVAIL)
	}
	delete(f.dummy, a)
	f.writes++
	return nil
}

// Render lists the links' addresses, sorted.
func (f *Addresses) Render() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, a := range slices.SortedFunc(maps.Keys(f.dummy), netip.Addr.Compare) {
		fmt.Fprintf(&b, "dummy %s\n", a)
	}
	for _, a := range slices.SortedFunc(maps.Keys(f.other), netip.Addr.Compare) {
		fmt.Fprintf(&b, "other %s\n", a)
	}
	return b.String()
}

// Conntrack fakes UDP conntrack entries: a count per (vip, vport, backend,
// bport) flow.
type Conntrack struct {
	mu      sync.Mutex
	entries map[Flow]int
	// Deleted records every DeleteUDP call, in order.
	Deleted []Flow
}

// Flow is a UDP virtual service address and a real server.
type Flow struct {
	VIP     netip.AddrPort
	Backend netip.AddrPort
}

func (f Flow) String() string { return fmt.Sprintf("%s -> %s", f.VIP, f.Backend) }

// NewConntrack returns an empty table.
func NewConntrack() *Conntrack { return &Conntrack{entries: map[Flow]int{}} }

// Add records n entries for a flow, as clients sending would.
func (c *Conntrack) Add(f Flow, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[f] += n
}

// Entries returns the number of entries for a flow.
func (c *Conntrack) Entries(f Flow) int { c.mu.Lock(); defer c.mu.Unlock(); return c.entries[f] }

// DeleteUDP implements reconciler.ConntrackCleaner.
func (c *Conntrack) DeleteUDP(vip netip.Addr, vport uint16, backend netip.Addr, bport uint16) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := Flow{netip.AddrPortFrom(vip, vport), netip.AddrPortFrom(backend, bport)}
	c.Deleted = append(c.Deleted, f)
	n := c.entries[f]
	delete(c.entries, f)
	return n, nil
}

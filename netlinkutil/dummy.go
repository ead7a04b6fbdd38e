package netlinkutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrWrongLinkType is returned (wrapped) by Ensure when a link with the
// configured name exists but is not a dummy: we never take over, delete or
// reconfigure somebody else's interface.
var ErrWrongLinkType = errors.New("link exists with another type")

// Dummy is the dummy interface (ipvs0, say) that holds the node's virtual
// IPs, so that the kernel accepts packets to them as local and hands them to
// IPVS. Calls are serialised: one Dummy may be shared by goroutines.
//
// Only Ensure creates the link. The address calls act on the link Ensure
// last found (a vanished link makes them fail with a wrapped ENODEV, after
// which they look it up again); LocalAddresses and Addresses always look it
// up afresh, since a dump would not notice it had gone.
type Dummy struct {
	name string
	h    Handle
	// newLink builds the link Ensure creates: a dummy, except in host tests
	// where the kernel has no dummy driver and a bridge stands in.
	newLink func(name string) netlink.Link

	mu   sync.Mutex
	link netlink.Link // nil until found
	// listed is how many addresses the last listing found on the link:
	// the next one's list is made that long, not grown to it (10,000 VIPs
	// at 10,000 Services, listed at every full resync).
	listed int
}

// NewDummy returns the dummy interface name, reached through h.
func NewDummy(h Handle, name string) *Dummy {
	return &Dummy{name: name, h: h, newLink: func(name string) netlink.Link {
		return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}
	}}
}

// Ensure creates the interface if it is missing and sets it up if it is
// down. It reports whether it created the link. A link of that name that is
// not a dummy is an error wrapping ErrWrongLinkType.
func (d *Dummy) Ensure() (created bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.link = nil
	l, err := d.lookupLocked()
	if errors.Is(err, unix.ENODEV) {
		err = d.h.LinkAdd(d.newLink(d.name))
		// EEXIST: somebody created it between our lookup and add; whatever
		// it is, the lookup below judges it.
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return false, fmt.Errorf("creating %s link %s: %w", d.kind(), d.name, err)
		}
		created = err == nil
		l, err = d.lookupLocked()
	}
	if err != nil {
		return created, err
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := d.h.LinkSetUp(l); err != nil {
			return created, fmt.Errorf("setting link %s up: %w", d.name, err)
		}
	}
	d.link = l
	return created, nil
}

// kind is the link type Ensure creates and accepts.
func (d *Dummy) kind() string { return d.newLink(d.name).Type() }

// lookupLocked finds the link and checks its type. A missing link is
// reported as ENODEV, the kernel's own answer, whether the library said so
// or returned its LinkNotFoundError (which wraps no errno).
func (d *Dummy) lookupLocked() (netlink.Link, error) {
	l, err := d.h.LinkByName(d.name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil, fmt.Errorf("link %s not found: %w", d.name, unix.ENODEV)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up link %s: %w", d.name, err)
	}
	if l.Type() != d.kind() {
		return nil, fmt.Errorf("link %s is of type %q, not %q: %w", d.name, l.Type(), d.kind(), ErrWrongLinkType)
	}
	return l, nil
}

// linkLocked returns the link Ensure found, or looks it up again.
func (d *Dummy) linkLocked() (netlink.Link, error) {
	if d.link != nil {
		return d.link, nil
	}
	l, err := d.lookupLocked()
	if err != nil {
		return nil, err
	}
	d.link = l
	return l, nil
}

// forgetIfGone drops the remembered link when the kernel says it no longer
// exists, so the next call looks it up afresh instead of failing forever.
func (d *Dummy) forgetIfGone(err error) {
	if errors.Is(err, unix.ENODEV) {
		d.link = nil
	}
}

// Delete deletes the link, and with it its addresses. It reports whether
// the link was there: a link already gone is no error. Only a dummy is
// deleted (a link of that name of another type is ErrWrongLinkType): it
// is for kube-proxy's kube-ipvs0, on the explicit take-over of a
// kube-proxy node, never for a link someone else may use.
func (d *Dummy) Delete() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.link = nil
	l, err := d.lookupLocked()
	if errors.Is(err, unix.ENODEV) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := d.h.LinkDel(l); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return false, nil
		}
		return false, fmt.Errorf("deleting link %s: %w", d.name, err)
	}
	return true, nil
}

// Addresses lists the interface's addresses (one netlink dump), sorted.
// IPv6 link-local addresses are left out: the kernel adds one to every link
// it sets up, and no caller put it there or may remove it.
func (d *Dummy) Addresses() ([]netip.Prefix, error) {
	local, err := d.LocalAddresses(unix.AF_UNSPEC)
	return local.Dummy, err
}

// AddAddress binds ip to the interface as a host address (/32 or /128).
// IPv6 addresses skip duplicate address detection so they work at once
// rather than after DAD's second or so of "tentative". Adding an address
// the interface already has fails with a wrapped EEXIST.
func (d *Dummy) AddAddress(ip netip.Addr) error { return d.AddAddresses([]netip.Addr{ip})[0] }

// DelAddress removes the host address ip from the interface. Removing an
// address it does not have fails with a wrapped EADDRNOTAVAIL.
func (d *Dummy) DelAddress(ip netip.Addr) error { return d.DelAddresses([]netip.Addr{ip})[0] }

// AddAddresses binds each ip as AddAddress does, many to one sendmsg, and
// returns each one's error (nil: bound): one already there fails with
// EEXIST and the others are bound all the same.
func (d *Dummy) AddAddresses(ips []netip.Addr) []error {
	return d.modify(ips, "adding %s to %s: %w", Handle.AddrAddBatch)
}

// DelAddresses removes each ip as DelAddress does, many to one sendmsg,
// and returns each one's error (nil: removed).
func (d *Dummy) DelAddresses(ips []netip.Addr) []error {
	return d.modify(ips, "removing %s from %s: %w", Handle.AddrDelBatch)
}

// modify runs op on the valid addresses of ips, in one batch, and wraps
// each error with the address and the link.
func (d *Dummy) modify(ips []netip.Addr, format string, op func(Handle, netlink.Link, []*netlink.Addr) []error) []error {
	errs := make([]error, len(ips))
	addrs := make([]*netlink.Addr, 0, len(ips))
	sent := make([]int, 0, len(ips)) // the index in ips of each of addrs
	for i, ip := range ips {
		a, err := hostAddr(ip)
		if err != nil {
			errs[i] = err
			continue
		}
		addrs, sent = append(addrs, a), append(sent, i)
	}
	if len(addrs) == 0 {
		return errs
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	results := make([]error, len(addrs))
	l, err := d.linkLocked()
	if err == nil {
		results = op(d.h, l, addrs)
	}
	for j, i := range sent {
		e := results[j]
		if err != nil {
			e = err
		}
		d.forgetIfGone(e)
		if e != nil {
			errs[i] = fmt.Errorf(format, HostPrefix(ips[i]), d.name, e)
		}
	}
	return errs
}

// HostPrefix is ip as a single-address prefix: /32 for IPv4 (IPv4-mapped
// IPv6 addresses included) and /128 for IPv6.
func HostPrefix(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen())
}

// hostAddr is the netlink form of ip's host prefix.
func hostAddr(ip netip.Addr) (*netlink.Addr, error) {
	if !ip.IsValid() || ip.Zone() != "" || ip.Unmap().IsUnspecified() {
		return nil, fmt.Errorf("%q is not a usable virtual IP", ip)
	}
	p := HostPrefix(ip)
	a := &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Bits()),
	}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a, nil
}

// Local is a snapshot of a namespace's addresses, from one netlink dump.
type Local struct {
	// Dummy are the dummy interface's own addresses, sorted, without IPv6
	// link-local ones.
	Dummy []netip.Prefix
	// Elsewhere are the addresses configured on any other link (lo
	// included). A virtual IP found here is already local to the node and
	// is not bound to the dummy again.
	Elsewhere map[netip.Addr]bool
}

// LocalAddresses takes a Local snapshot of one family (unix.AF_INET,
// unix.AF_INET6, or unix.AF_UNSPEC for both) with a single dump of every
// link's addresses, so both halves are consistent with each other.
func (d *Dummy) LocalAddresses(family int) (Local, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Look the link up afresh rather than trust the one remembered: had it
	// been deleted, the dump would quietly show it without addresses.
	d.link = nil
	l, err := d.linkLocked()
	if err != nil {
		return Local{}, err
	}
	// A dump the kernel reports as interrupted (NLM_F_DUMP_INTR) may be
	// missing addresses: fail, and let the next sync try again.
	out := Local{Elsewhere: map[netip.Addr]bool{}, Dummy: make([]netip.Prefix, 0, d.listed)}
	index := l.Attrs().Index
	err = d.h.AddrDump(family, func(i int, p netip.Prefix) {
		switch {
		case i != index:
			out.Elsewhere[p.Addr()] = true
		case p.Addr().Is6() && p.Addr().IsLinkLocalUnicast():
		default:
			out.Dummy = append(out.Dummy, p)
		}
	})
	if err != nil {
		return Local{}, fmt.Errorf("listing addresses (looking for %s's): %w", d.name, err)
	}
	d.listed = len(out.Dummy)
	slices.SortFunc(out.Dummy, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out, nil
}

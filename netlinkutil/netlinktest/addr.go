package netlinktest

import (
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// normalize returns addr's IP in its shortest form and its prefix length,
// or EINVAL for an address the kernel would refuse.
func normalize(addr *netlink.Addr) (net.IP, int, error) {
	if addr == nil || addr.IPNet == nil {
		return nil, 0, unix.EINVAL
	}
	ip := addr.IP
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	} else if len(ip) != net.IPv6len {
		return nil, 0, unix.EINVAL
	}
	ones, bits := addr.Mask.Size()
	if bits == 8*net.IPv6len && len(ip) == net.IPv4len && ones >= 96 {
		ones -= 96
	} else if bits != 8*len(ip) {
		return nil, 0, unix.EINVAL
	}
	return ip, ones, nil
}

// sameAddress applies the kernel's identity rules. IPv4 keeps
// 192.0.2.1/32 and 192.0.2.1/24 apart on one link (both can exist); IPv6
// allows one prefix length per address, so it is the address alone when
// adding, but both when deleting (inet6_addr_del wants the length to match).
func sameAddress(a netlink.Addr, ip net.IP, ones int, ignoreLen bool) bool {
	got, _ := a.Mask.Size()
	return a.IP.Equal(ip) && (got == ones || (ignoreLen && len(ip) == net.IPv6len))
}

// AddrAdd adds an address to a link: ENODEV for a missing link, EEXIST for
// an address the link already has.
func (f *Fake) AddrAdd(link netlink.Link, addr *netlink.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addrAddLocked(link, addr)
}

// AddrAddBatch adds each address as AddrAdd would, each with its own
// outcome, as the kernel handles the requests of one sendmsg. An error
// queued for "AddrAdd" fails one address of the batch.
func (f *Fake) AddrAddBatch(link netlink.Link, addrs []*netlink.Addr) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(addrs))
	for i, a := range addrs {
		errs[i] = f.addrAddLocked(link, a)
	}
	return errs
}

func (f *Fake) addrAddLocked(link netlink.Link, addr *netlink.Addr) error {
	if err := f.injected("AddrAdd"); err != nil {
		return err
	}
	l := f.find(link)
	if l == nil {
		return unix.ENODEV
	}
	ip, ones, err := normalize(addr)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(l.addrs, func(a netlink.Addr) bool { return sameAddress(a, ip, ones, true) }) {
		return unix.EEXIST
	}
	a := fakeAddr(l.index, slices.Clone(ip), ones, addr.Scope)
	a.Flags |= addr.Flags
	l.addrs = append(l.addrs, a)
	return nil
}

// AddrDel removes an address from a link: ENODEV for a missing link,
// EADDRNOTAVAIL for an address (with that prefix length) it does not have.
func (f *Fake) AddrDel(link netlink.Link, addr *netlink.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addrDelLocked(link, addr)
}

// AddrDelBatch removes each address as AddrDel would, each with its own
// outcome. An error queued for "AddrDel" fails one address of the batch.
func (f *Fake) AddrDelBatch(link netlink.Link, addrs []*netlink.Addr) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(addrs))
	for i, a := range addrs {
		errs[i] = f.addrDelLocked(link, a)
	}
	return errs
}

func (f *Fake) addrDelLocked(link netlink.Link, addr *netlink.Addr) error {
	if err := f.injected("AddrDel"); err != nil {
		return err
	}
	l := f.find(link)
	if l == nil {
		return unix.ENODEV
	}
	ip, ones, err := normalize(addr)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(l.addrs, func(a netlink.Addr) bool { return sameAddress(a, ip, ones, false) })
	if i < 0 {
		return unix.EADDRNOTAVAIL
	}
	l.addrs = slices.Delete(l.addrs, i, i+1)
	return nil
}

// AddrList dumps the addresses of one link, or of all links when link is
// nil, of one family (unix.AF_INET, unix.AF_INET6) or both (AF_UNSPEC).
// Like the library, it filters by link after the dump, so a link that does
// not exist simply has no addresses.
func (f *Fake) AddrList(link netlink.Link, family int) ([]netlink.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("AddrList"); err != nil {
		return nil, err
	}
	var out []netlink.Addr
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		if family != unix.AF_UNSPEC && family != fam {
			continue
		}
		for _, l := range f.links {
			if link != nil && f.find(link) != l {
				continue
			}
			for _, a := range l.addrs {
				if (len(a.IP) == net.IPv4len) == (fam == unix.AF_INET) {
					out = append(out, copyAddr(a))
				}
			}
		}
	}
	return out, nil
}

// AddrDump calls each with every address AddrList(nil, family) lists:
// its link's index and its prefix, IPv4 in its 4-byte form, as the
// kernel's address dump reports them.
func (f *Fake) AddrDump(family int, each func(linkIndex int, p netip.Prefix)) error {
	f.mu.Lock()
	err := f.injected("AddrDump")
	f.mu.Unlock()
	if err != nil {
		return err
	}
	addrs, err := f.AddrList(nil, family)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a); ok {
			each(a.LinkIndex, p)
		}
	}
	return nil
}

// prefixOf converts a netlink address, mapping 16-byte IPv4 forms back to
// IPv4.
func prefixOf(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	ones, bits := a.Mask.Size()
	if bits == 128 && ip.Is4() {
		ones -= 96
	}
	return netip.PrefixFrom(ip, ones), true
}

func copyAddr(a netlink.Addr) netlink.Addr {
	a.IPNet = &net.IPNet{IP: slices.Clone(a.IP), Mask: slices.Clone(a.Mask)}
	return a
}

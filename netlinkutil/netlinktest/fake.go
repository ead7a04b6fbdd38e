package netlinktest

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Fake is a namespace's links, addresses and conntrack table. The zero
// value is not usable: call New.
type Fake struct {
	mu        sync.Mutex
	links     []*fakeLink // by index
	nextIndex int
	noDriver  map[string]bool
	flows     []netlink.ConntrackFlow
	failNext  map[string][]error
}

type fakeLink struct {
	name  string
	kind  string
	index int
	up    bool
	addrs []netlink.Addr
}

// New returns a namespace holding only lo, up, with 127.0.0.1/8 and ::1,
// as a fresh network namespace has.
func New() *Fake {
	f := &Fake{nextIndex: 1, noDriver: map[string]bool{}, failNext: map[string][]error{}}
	lo := f.addLinkLocked("lo", "device")
	lo.up = true
	lo.addrs = []netlink.Addr{
		fakeAddr(lo.index, net.IPv4(127, 0, 0, 1).To4(), 8, unix.RT_SCOPE_HOST),
		fakeAddr(lo.index, net.IPv6loopback, 128, unix.RT_SCOPE_HOST),
	}
	return f
}

func fakeAddr(index int, ip net.IP, ones, scope int) netlink.Addr {
	return netlink.Addr{
		IPNet:     &net.IPNet{IP: ip, Mask: net.CIDRMask(ones, 8*len(ip))},
		LinkIndex: index,
		Scope:     scope,
		Flags:     unix.IFA_F_PERMANENT,
	}
}

// FailNext makes the next call of method (as named in netlinkutil.Handle,
// "AddrAdd" say) fail with err and change nothing. Calls queue up.
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[method] = append(f.failNext[method], err)
}

// injected pops the error queued for method, if any.
func (f *Fake) injected(method string) error {
	q := f.failNext[method]
	if len(q) == 0 {
		return nil
	}
	f.failNext[method] = q[1:]
	return q[0]
}

// NoDriver makes LinkAdd of that link type fail with EOPNOTSUPP, as on a
// kernel built without the driver (the host's, for dummy).
func (f *Fake) NoDriver(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noDriver[kind] = true
}

func (f *Fake) addLinkLocked(name, kind string) *fakeLink {
	l := &fakeLink{name: name, kind: kind, index: f.nextIndex}
	f.nextIndex++
	f.links = append(f.links, l)
	return l
}

// find resolves a link the way the library does: by index, or by name when
// the index is not filled in.
func (f *Fake) find(link netlink.Link) *fakeLink {
	a := link.Attrs()
	for _, l := range f.links {
		if (a.Index != 0 && l.index == a.Index) || (a.Index == 0 && l.name == a.Name) {
			return l
		}
	}
	return nil
}

func (f *Fake) byName(name string) *fakeLink {
	for _, l := range f.links {
		if l.name == name {
			return l
		}
	}
	return nil
}

// view builds what the library would return for l: the concrete type for
// the kinds we know, a GenericLink otherwise.
func (l *fakeLink) view() netlink.Link {
	attrs := netlink.LinkAttrs{Name: l.name, Index: l.index, OperState: netlink.OperDown}
	if l.up {
		attrs.Flags, attrs.RawFlags, attrs.OperState = net.FlagUp, unix.IFF_UP, netlink.OperUnknown
	}
	switch l.kind {
	case "dummy":
		return &netlink.Dummy{LinkAttrs: attrs}
	case "bridge":
		return &netlink.Bridge{LinkAttrs: attrs}
	case "veth":
		return &netlink.Veth{LinkAttrs: attrs}
	case "device":
		return &netlink.Device{LinkAttrs: attrs}
	}
	return &netlink.GenericLink{LinkAttrs: attrs, LinkType: l.kind}
}

// LinkByName returns the named link, or ENODEV (the kernel's errno; the
// library would wrap it in its LinkNotFoundError).
func (f *Fake) LinkByName(name string) (netlink.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("LinkByName"); err != nil {
		return nil, err
	}
	l := f.byName(name)
	if l == nil {
		return nil, fmt.Errorf("link %s: %w", name, unix.ENODEV)
	}
	return l.view(), nil
}

// LinkAdd creates a link, down and without addresses; a veth brings its
// peer.
func (f *Fake) LinkAdd(link netlink.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("LinkAdd"); err != nil {
		return err
	}
	name, kind := link.Attrs().Name, link.Type()
	peer := ""
	if v, ok := link.(*netlink.Veth); ok {
		peer = v.PeerName
	}
	switch {
	case name == "" || (kind == "veth" && peer == ""):
		return unix.EINVAL
	case f.noDriver[kind]:
		return unix.EOPNOTSUPP
	case f.byName(name) != nil || (peer != "" && f.byName(peer) != nil):
		return unix.EEXIST
	}
	f.addLinkLocked(name, kind)
	if peer != "" {
		f.addLinkLocked(peer, kind)
	}
	return nil
}

// LinkDel removes a link and its addresses.
func (f *Fake) LinkDel(link netlink.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("LinkDel"); err != nil {
		return err
	}
	l := f.find(link)
	if l == nil {
		return unix.ENODEV
	}
	f.links = slices.DeleteFunc(f.links, func(x *fakeLink) bool { return x == l })
	return nil
}

// LinkSetUp sets a link up. The first time, like the kernel, it gives the
// link an IPv6 link-local address (fe80::<index>/64 here).
func (f *Fake) LinkSetUp(link netlink.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("LinkSetUp"); err != nil {
		return err
	}
	l := f.find(link)
	if l == nil {
		return unix.ENODEV
	}
	if l.up {
		return nil
	}
	l.up = true
	if l.kind != "device" && !slices.ContainsFunc(l.addrs, func(a netlink.Addr) bool { return a.IP.IsLinkLocalUnicast() }) {
		ll := net.ParseIP(fmt.Sprintf("fe80::%x", l.index))
		l.addrs = append(l.addrs, fakeAddr(l.index, ll, 64, unix.RT_SCOPE_LINK))
	}
	return nil
}

// String renders the whole state as text for golden tests: one line per
// link, its addresses indented below it, then the conntrack flows.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, l := range f.links {
		state := "down"
		if l.up {
			state = "up"
		}
		fmt.Fprintf(&b, "%d: %s %s %s\n", l.index, l.name, l.kind, state)
		for _, a := range sortedAddrs(l.addrs) {
			fmt.Fprintf(&b, "    %s\n", a.IPNet)
		}
	}
	for _, fl := range f.flows {
		fmt.Fprintf(&b, "conntrack: %s\n", flowString(fl))
	}
	return b.String()
}

// sortedAddrs orders IPv4 before IPv6, as the kernel's dump does, and
// keeps the order of addition within a family.
func sortedAddrs(addrs []netlink.Addr) []netlink.Addr {
	out := slices.Clone(addrs)
	slices.SortStableFunc(out, func(a, b netlink.Addr) int {
		return cmp.Compare(len(a.IP), len(b.IP))
	})
	return out
}

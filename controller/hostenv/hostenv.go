package hostenv

import (
	"errors"
	"fmt"
	"net/netip"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// DefaultInterface is the dummy link VIPs are bound to.
const DefaultInterface = "ipvs0"

// Options say where and how to open the environment.
type Options struct {
	// NetnsPath is the network namespace to work in ("" for our own).
	NetnsPath string
	// Interface is the dummy link's name (DefaultInterface if empty).
	Interface string
	// SysctlRoot is /proc/sys unless a test says otherwise; sysctls are
	// only set when SetSysctls is true.
	SysctlRoot string
	SetSysctls bool
	// ExistingLink only looks the dummy link up, never creating it (for
	// cleanup: without the link no VIP of ours is bound). Env.Addresses
	// is then nil when the link does not exist.
	ExistingLink bool
	// ServiceLinks are other links whose addresses are service VIPs, not
	// the host's: kube-proxy's kube-ipvs0 while ipvsd takes over from it.
	// HostAddresses leaves them out, so that no node port is served on a
	// ClusterIP.
	ServiceLinks []string
}

// Env is an opened host environment. Close releases its handles.
type Env struct {
	IPVS *ipvs.Handle
	// IPVSDump is a second IPVS handle, whose dumps (a full resync's,
	// taken ahead) do not hold up IPVS's writes.
	IPVSDump *ipvs.Handle
	Link     *netlinkutil.Dummy
	// Addresses binds VIPs on Link; nil only with Options.ExistingLink
	// and no link.
	Addresses reconciler.AddressBinder
	Conntrack Conntrack
	nl        *netlinkutil.RouteHandle
	// serviceLinks are Options.ServiceLinks.
	serviceLinks []string
}

// Open opens the IPVS and netlink handles, ensures the dummy link exists and
// is up, and (if asked) sets the IPVS sysctls, logging each value changed.
func Open(opts Options, log *zap.Logger) (*Env, error) {
	if opts.Interface == "" {
		opts.Interface = DefaultInterface
	}
	if opts.SysctlRoot == "" {
		opts.SysctlRoot = netlinkutil.ProcSys
	}
	h, err := ipvs.New(opts.NetnsPath)
	if err != nil {
		return nil, fmt.Errorf("opening IPVS: %w", err)
	}
	dump, err := ipvs.New(opts.NetnsPath)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("opening IPVS for dumps: %w", err)
	}
	nl, err := netlinkutil.OpenHandle(opts.NetnsPath)
	if err != nil {
		h.Close()
		dump.Close()
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	d := netlinkutil.NewDummy(nl, opts.Interface)
	binder, err := openLink(d, opts, log)
	if err != nil {
		h.Close()
		dump.Close()
		nl.Close()
		return nil, fmt.Errorf("dummy interface %s: %w", opts.Interface, err)
	}
	if opts.SetSysctls {
		release, err := netlinkutil.KernelRelease()
		if err == nil {
			_, err = netlinkutil.EnsureIPVSSysctls(log, opts.SysctlRoot, release)
		}
		if err != nil {
			// Not fatal: IPVS works without them, only less well (stale
			// connections to deleted servers, no NAT conntrack).
			log.Warn("setting IPVS sysctls", zap.Error(err))
		}
	}
	return &Env{IPVS: h, IPVSDump: dump, Link: d, Addresses: binder, Conntrack: Conntrack{nl}, nl: nl, serviceLinks: opts.ServiceLinks}, nil
}

// openLink makes sure the dummy link exists and is up, or with
// ExistingLink only looks for it.
func openLink(d *netlinkutil.Dummy, opts Options, log *zap.Logger) (reconciler.AddressBinder, error) {
	if opts.ExistingLink {
		_, err := d.Addresses()
		if errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return Addresses{d}, nil
	}
	created, err := d.Ensure()
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created dummy interface", zap.String("interface", opts.Interface))
	}
	return Addresses{d}, nil
}

// Deps returns the reconciler's collaborators on this host.
func (e *Env) Deps(log *zap.Logger) reconciler.Deps {
	d := reconciler.Deps{Kernel: e.IPVS, Addresses: e.Addresses, Conntrack: e.Conntrack, Log: log}
	if e.IPVSDump != nil {
		d.Dumper = syncDumper{e.IPVSDump}
	}
	return d
}

// syncDumper gives the reconciler dumps without the real servers' stats,
// which it does not read: a full resync holds its dump until the last
// slice is compared.
type syncDumper struct{ h *ipvs.Handle }

func (s syncDumper) DumpEach(each func(*ipvs.ServiceWithDests) error) error {
	return s.h.DumpEachForSync(each)
}

// OtherDummy is another program's dummy link, name (kube-proxy's
// kube-ipvs0), on the environment's netlink handle. It is only read, and
// deleted on the operator's explicit take-over of that program's
// leftovers; the VIPs on it that ipvsd wants are bound to Link first (the
// reconciler's Adoptable.Addresses), so that the kernel keeps them local
// throughout: while an address is on either link its local route stays.
func (e *Env) OtherDummy(name string) *netlinkutil.Dummy { return netlinkutil.NewDummy(e.nl, name) }

// Close releases the handles. Kernel state is left as it is.
func (e *Env) Close() error {
	e.nl.Close()
	var dumpErr error
	if e.IPVSDump != nil {
		dumpErr = e.IPVSDump.Close()
	}
	return errors.Join(e.IPVS.Close(), dumpErr)
}

// HostAddresses are the host's own addresses, loopback, the VIPs on our
// dummy link and those on the ServiceLinks excluded: the firewall needs
// them to recognise the node's own traffic, and node ports open on them,
// not on service addresses.
func (e *Env) HostAddresses() ([]netip.Addr, error) {
	l, err := e.Link.LocalAddresses(unix.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	vips := map[netip.Addr]bool{}
	for _, name := range e.serviceLinks {
		ps, err := e.OtherDummy(name).Addresses()
		if errors.Is(err, unix.ENODEV) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			vips[p.Addr()] = true
		}
	}
	out := make([]netip.Addr, 0, len(l.Elsewhere))
	for a := range l.Elsewhere {
		if !a.IsLoopback() && !vips[a] {
			out = append(out, a)
		}
	}
	return out, nil
}

// Addresses adapts the dummy link to reconciler.AddressBinder.
type Addresses struct{ D *netlinkutil.Dummy }

var _ reconciler.AddressBinder = Addresses{}

// ListAddresses lists the dummy link's addresses and every other link's
// from one dump.
func (a Addresses) ListAddresses() (reconciler.AddressListing, error) {
	l, err := a.D.LocalAddresses(unix.AF_UNSPEC)
	if err != nil {
		return reconciler.AddressListing{}, err
	}
	out := reconciler.AddressListing{OnLink: make(map[netip.Addr]bool, len(l.Dummy)), Elsewhere: l.Elsewhere}
	for _, p := range l.Dummy {
		out.OnLink[p.Addr()] = true
	}
	return out, nil
}

func (a Addresses) AddAddresses(ips []netip.Addr) []error { return a.D.AddAddresses(ips) }
func (a Addresses) DelAddresses(ips []netip.Addr) []error { return a.D.DelAddresses(ips) }

// Conntrack adapts netlink's conntrack deletion to reconciler.ConntrackCleaner.
type Conntrack struct{ H netlinkutil.ConntrackHandle }

var _ reconciler.ConntrackCleaner = Conntrack{}

func (c Conntrack) DeleteUDP(vip netip.Addr, vport uint16, backend netip.Addr, bport uint16) (int, error) {
	n, err := netlinkutil.DeleteUDPConntrack(c.H, vip, vport, backend, bport)
	return int(n), err
}

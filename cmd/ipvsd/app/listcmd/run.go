package listcmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/inspect"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/netdb"
)

// Kernel is what list reads from the IPVS table; *ipvs.Handle has it.
type Kernel interface {
	Info() (ipvs.Info, error)
	Dump() ([]ipvs.ServiceWithDests, error)
	GetService(ipvs.Key) (ipvs.ServiceWithDests, error)
}

// Deps are where list reads from. Nil or empty fields mean the system's.
type Deps struct {
	// Kernel opens the IPVS table; it is not called for -c.
	Kernel func() (Kernel, error)
	// ConnPath is the connection table (ipvs.ConnPath).
	ConnPath string
	// HostsPath and ServicesPath name hosts and ports without -n.
	HostsPath, ServicesPath string
}

// ErrNoSuchService is ipvsadm's message, capital and all, for a selected
// service that does not exist, so scripts matching it keep working.
var ErrNoSuchService = errors.New("No such service")

// noSuchService reads exactly as ipvsadm's message and wraps both it and
// the kernel's error.
type noSuchService struct{ err error }

func (e noSuchService) Error() string   { return ErrNoSuchService.Error() }
func (e noSuchService) Unwrap() []error { return []error{ErrNoSuchService, e.err} }

// ErrIPVSNotLoaded means the kernel has no IPVS: the ip_vs module is not
// loaded (or not built). The kernel says only "no such file" (no
// /proc/net/ip_vs_conn, no IPVS generic netlink family), which names the
// symptom and not the cause.
var ErrIPVSNotLoaded = errors.New("IPVS is not loaded in this kernel (load it with: modprobe ip_vs)")

// hintNotLoaded wraps err in ErrIPVSNotLoaded when it says an IPVS
// facility of the kernel does not exist.
func hintNotLoaded(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrIPVSNotLoaded, err)
	}
	return err
}

// ErrDrift means --drift found the kernel unlike the desired state.
var ErrDrift = errors.New("the kernel differs from the desired state")

// Run lists what opts ask for to stdout; notes go to stderr.
func Run(opts Options, deps Deps, stdout, stderr io.Writer) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	var names *netdb.DB
	if !opts.Numeric || (opts.Service != nil && opts.Service.FWMark == "") {
		db, err := netdb.Load(or(deps.HostsPath, netdb.HostsPath), or(deps.ServicesPath, netdb.ServicesPath))
		if err != nil {
			return err
		}
		names = db
	}
	var render ipvs.Names
	if !opts.Numeric {
		render = names
	}
	if opts.Connections {
		return listConnections(opts, or(deps.ConnPath, ipvs.ConnPath), render, stdout)
	}
	var sel *ipvs.Key
	if opts.Service != nil {
		k, err := opts.Service.Key(names)
		if err != nil {
			return err
		}
		sel = &k
	}
	open := deps.Kernel
	if open == nil {
		open = func() (Kernel, error) { return ipvs.New("") }
	}
	k, err := open()
	if err != nil {
		return hintNotLoaded(err)
	}
	if c, ok := k.(io.Closer); ok {
		defer c.Close()
	}
	if opts.Drift {
		return listDrift(opts, k, stdout)
	}
	return listServices(opts, k, sel, render, stdout, stderr)
}

func listConnections(opts Options, path string, names ipvs.Names, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return hintNotLoaded(fmt.Errorf("reading IPVS connections: %w", err))
	}
	defer f.Close()
	conns, err := ipvs.ParseConnections(f)
	if err != nil {
		return err
	}
	if opts.Output != "" {
		if conns == nil {
			conns = []ipvs.Connection{}
		}
		return encode(stdout, opts.Output, struct {
			Connections []ipvs.Connection `json:"connections"`
		}{conns})
	}
	return ipvs.RenderConnections(stdout, conns, names, opts.PersistentConn)
}

func listServices(opts Options, k Kernel, sel *ipvs.Key, names ipvs.Names, stdout, stderr io.Writer) error {
	info, err := k.Info()
	if err != nil {
		return err
	}
	var svcs []ipvs.ServiceWithDests
	if sel != nil {
		s, err := k.GetService(*sel)
		if errors.Is(err, unix.ESRCH) {
			return noSuchService{err}
		}
		if err != nil {
			return err
		}
		svcs = []ipvs.ServiceWithDests{s}
	} else if svcs, err = k.Dump(); err != nil {
		return err
	}
	ro := ipvs.RenderOptions{Info: info, Format: opts.format(), Exact: opts.Exact, Names: names}
	if opts.NoSort {
		ro.Order = ipvs.OrderGiven
	}
	if opts.Owners {
		owned, err := loadRecord(opts.recordPath())
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "ipvsd: no ownership record at %s (ipvsd has not run since boot): owners unknown\n", opts.recordPath())
		} else if err != nil {
			return err
		} else {
			ro.Owner = inspect.Owners(owned)
		}
	}
	if opts.Output != "" {
		return encode(stdout, opts.Output, newListing(info, svcs, ro))
	}
	if sel != nil {
		return ipvs.RenderService(stdout, svcs[0], ro)
	}
	return ipvs.Render(stdout, svcs, ro)
}

// loadRecord is runstate.LoadRecord, but tells a missing record (no
// daemon since boot) from an empty one.
func loadRecord(path string) (runstate.Record, error) {
	if _, err := os.Stat(path); err != nil {
		return runstate.Record{}, fmt.Errorf("reading ownership record: %w", err)
	}
	return runstate.LoadRecord(path)
}

func listDrift(opts Options, k Kernel, stdout io.Writer) error {
	desired, err := runstate.LoadDesired(opts.desiredPath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no desired state published at %s: the ipvsd daemon has not synced since boot (%w)", opts.desiredPath(), err)
	}
	if err != nil {
		return err
	}
	owned, err := loadRecord(opts.recordPath())
	if err != nil {
		return err
	}
	dump, err := k.Dump()
	if err != nil {
		return err
	}
	drift := inspect.Compare(desired, dump, owned)
	if opts.Output != "" {
		if drift == nil {
			drift = []inspect.Drift{}
		}
		err = encode(stdout, opts.Output, struct {
			Drift []inspect.Drift `json:"drift"`
		}{drift})
	} else {
		err = writeDrift(stdout, drift)
	}
	if err != nil {
		return err
	}
	n := 0
	for _, d := range drift {
		if !d.Settled() {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d virtual servers: %w", n, ErrDrift)
	}
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

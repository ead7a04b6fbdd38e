package listcmd

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Options are the command's flags.
type Options struct {
	Numeric        bool // -n: no name lookups
	Stats          bool
	Rate           bool
	Thresholds     bool
	PersistentConn bool
	Exact          bool
	NoSort         bool // --nosort; --sort is the default and changes nothing
	Connections    bool // -c: the connection table

	// Service selects one virtual server (-t, -u, --sctp-service, -f with
	// -6); nil lists them all.
	Service *Selector

	Owners bool   // a column naming each service's owner
	Drift  bool   // compare the published desired state with the kernel
	Output string // "", "json" or "yaml"
	// RunDir holds the daemon's ownership record and desired state
	// (default /run/ipvsd).
	RunDir string
}

// Selector is a service as named on ipvsadm's command line.
type Selector struct {
	// Protocol is TCP, UDP or SCTP for an address selector.
	Protocol ipvs.Protocol
	// Address is "host[:port]", "[v6]:port" or a bare IPv6 address.
	Address string
	// FWMark is the -f argument; IPv6 is -6.
	FWMark string
	IPv6   bool
}

// Validate reports the combinations ipvsadm refuses, and ours.
func (o *Options) Validate() error {
	var errs []error
	if o.Connections && o.Service != nil {
		errs = append(errs, errors.New("the option 'service-address' conflicts with the 'connection' option in the 'list' command"))
	}
	if o.Connections && (o.Stats || o.Rate || o.Thresholds) {
		errs = append(errs, errors.New("options conflicts in the list command"))
	}
	if o.Drift && (o.Connections || o.Service != nil || o.Stats || o.Rate || o.Thresholds || o.PersistentConn || o.Owners) {
		errs = append(errs, errors.New("--drift takes no listing options"))
	}
	if o.Owners && o.Connections {
		errs = append(errs, errors.New("--owners applies to virtual servers, not to connections (-c)"))
	}
	switch o.Output {
	case "", "json", "yaml":
	default:
		errs = append(errs, fmt.Errorf("unknown output format %q (want json or yaml)", o.Output))
	}
	if s := o.Service; s != nil && s.IPv6 && s.FWMark == "" {
		errs = append(errs, errors.New("-6 used before -f"))
	}
	return errors.Join(errs...)
}

func (o *Options) recordPath() string {
	return filepath.Join(o.runDir(), filepath.Base(runstate.DefaultRecordPath))
}

func (o *Options) desiredPath() string { return runstate.DesiredPath(o.recordPath()) }

func (o *Options) runDir() string {
	if o.RunDir == "" {
		return filepath.Dir(runstate.DefaultRecordPath)
	}
	return o.RunDir
}

// format maps the format options to the renderer's, with ipvsadm's
// precedence when several are given.
func (o *Options) format() ipvs.Format {
	switch {
	case o.Stats:
		return ipvs.FormatStats
	case o.Rate:
		return ipvs.FormatRate
	case o.Thresholds:
		return ipvs.FormatThresholds
	case o.PersistentConn:
		return ipvs.FormatPersistentConn
	}
	return ipvs.FormatDefault
}

// Resolver turns names given on the command line into numbers.
type Resolver interface {
	HostAddr(name string) (netip.Addr, bool)
	Port(name, proto string) (uint16, bool)
}

// ErrMultipleServices is ipvsadm's complaint about two service options.
var ErrMultipleServices = errors.New("multiple 'service-address' options specified")

var errIllegalService = errors.New("illegal virtual server address[:port] specified")

// Key resolves the selector as ipvsadm parses -t/-u/--sctp-service/-f:
// an IPv4 address or host name with an optional port or service name, or
// an IPv6 address, bare or "[addr]:port". A missing port is port 0.
func (s *Selector) Key(names Resolver) (ipvs.Key, error) {
	if s.FWMark != "" {
		m, err := strconv.ParseUint(s.FWMark, 10, 32)
		if err != nil || m == 0 {
			return ipvs.Key{}, fmt.Errorf("invalid fwmark value `%s' specified", s.FWMark)
		}
		f := ipvs.IPv4
		if s.IPv6 {
			f = ipvs.IPv6
		}
		return ipvs.Key{Family: f, FWMark: uint32(m)}, nil
	}
	buf := s.Address
	if buf == "" || strings.Trim(buf, "0123456789") == "" {
		return ipvs.Key{}, errIllegalService
	}
	var host, port string
	hasPort := false
	if rest, ok := strings.CutPrefix(buf, "["); ok {
		h, p, ok := strings.Cut(rest, "]:")
		if !ok {
			return ipvs.Key{}, errIllegalService
		}
		host, port, hasPort = h, p, true
	} else if a, err := netip.ParseAddr(buf); err == nil && a.Is6() {
		host = buf
	} else if i := strings.LastIndexByte(buf, ':'); i >= 0 {
		host, port, hasPort = buf[:i], buf[i+1:], true
	} else {
		host = buf
	}
	k := ipvs.Key{Protocol: s.Protocol}
	a, err := netip.ParseAddr(host)
	switch {
	case err == nil && a.Zone() == "":
		k.Address = a.Unmap()
	case names != nil:
		var ok bool
		if k.Address, ok = names.HostAddr(host); !ok {
			return ipvs.Key{}, errIllegalService
		}
	default:
		return ipvs.Key{}, errIllegalService
	}
	k.Family = ipvs.FamilyOf(k.Address)
	if hasPort {
		if n, err := strconv.ParseUint(port, 10, 16); err == nil {
			k.Port = uint16(n)
		} else if p, ok := lookupPort(names, port, s.Protocol); ok {
			k.Port = p
		} else {
			return ipvs.Key{}, errIllegalService
		}
	}
	return k, nil
}

func lookupPort(names Resolver, name string, p ipvs.Protocol) (uint16, bool) {
	if names == nil {
		return 0, false
	}
	return names.Port(name, strings.ToLower(p.String()))
}

package listcmd

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Flags hold list's command line as pflag parsed it; Options turns them
// into Options. pflag already reads options the way ipvsadm's popt does
// where ipvsadm users rely on it: short options combined (-Lnc), a value
// attached to the last one (-Lnt10.0.0.1:80) or given as the next
// argument (-Lnt 10.0.0.1:80), and --long=value.
type Flags struct {
	opts                   Options
	tcp, udp, sctp, fwmark string
	ipv6                   bool
	// sorted, list and listLower are accepted and change nothing: --sort
	// is the default, and -L/-l/--list are ipvsadm's command, which
	// ipvsadm users type out of habit (ipvsd list -Ln).
	sorted, list, listLower bool
}

// AddFlags defines list's flags on fs: ipvsadm's listing options with
// ipvsadm's names, and ours.
func AddFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{}
	o := &f.opts
	fs.BoolVarP(&f.list, "list", "L", false, "ipvsadm's list command, accepted so that ipvsadm's -Ln, -Lnc and --list work")
	fs.BoolVarP(&f.listLower, "list-l", "l", false, "ipvsadm's -l, the same as -L")
	_ = fs.MarkHidden("list-l")
	fs.BoolVarP(&o.Numeric, "numeric", "n", false, "print addresses and ports as numbers")
	fs.BoolVar(&o.Stats, "stats", false, "print counters")
	fs.BoolVar(&o.Rate, "rate", false, "print rates")
	fs.BoolVar(&o.Thresholds, "thresholds", false, "print connection thresholds")
	fs.BoolVar(&o.PersistentConn, "persistent-conn", false, "print persistent connection counts (with -c: persistence engine data)")
	fs.BoolVarP(&o.Exact, "exact", "X", false, "print counters unscaled")
	fs.BoolVar(&f.sorted, "sort", false, "sort services and real servers (the default)")
	fs.BoolVar(&o.NoSort, "nosort", false, "list in the kernel's order")
	fs.BoolVarP(&o.Connections, "connection", "c", false, "list the connection table")
	fs.StringVarP(&f.tcp, "tcp-service", "t", "", "list one TCP service: `host[:port]`")
	fs.StringVarP(&f.udp, "udp-service", "u", "", "list one UDP service: `host[:port]`")
	fs.StringVar(&f.sctp, "sctp-service", "", "list one SCTP service: `host[:port]`")
	fs.StringVarP(&f.fwmark, "fwmark-service", "f", "", "list one firewall-mark service: `mark`")
	fs.BoolVarP(&f.ipv6, "ipv6", "6", false, "with -f: the IPv6 firewall-mark service")
	fs.BoolVar(&o.Owners, "owners", false, "add a column naming each virtual server's owner")
	fs.BoolVar(&o.Drift, "drift", false, "print where the kernel differs from the daemon's desired state")
	fs.StringVarP(&o.Output, "output", "o", "", "print `json` or yaml instead of ipvsadm's text")
	fs.StringVar(&o.RunDir, "run-dir", "/run/ipvsd", "where the daemon keeps its ownership record and desired state")
	return f
}

// Options are the parsed flags of fs (the set AddFlags filled) as
// Options, with ipvsadm's complaints about the service options. It does
// not Validate them: Run does.
func (f *Flags) Options(fs *pflag.FlagSet) (Options, error) {
	o := f.opts
	n := 0
	for _, s := range []struct {
		flag  string
		proto ipvs.Protocol
		val   string
	}{{"tcp-service", ipvs.TCP, f.tcp}, {"udp-service", ipvs.UDP, f.udp}, {"sctp-service", ipvs.SCTP, f.sctp}, {"fwmark-service", 0, f.fwmark}} {
		if !fs.Changed(s.flag) {
			continue
		}
		n++
		o.Service = &Selector{Protocol: s.proto, Address: s.val, IPv6: f.ipv6}
		if s.proto == 0 {
			o.Service = &Selector{FWMark: s.val, IPv6: f.ipv6}
		}
	}
	if n > 1 {
		return Options{}, ErrMultipleServices
	}
	if f.ipv6 && o.Service == nil {
		o.Service = &Selector{IPv6: true}
	}
	return o, nil
}

// NoArgs is list's argument check, with ipvsadm's message: every operand
// is an option.
func NoArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %s", args[0])
	}
	return nil
}

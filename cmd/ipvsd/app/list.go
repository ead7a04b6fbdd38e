package app

import (
	"github.com/spf13/cobra"

	"github.com/ipvsd/ipvsd/cmd/ipvsd/app/listcmd"
	"github.com/ipvsd/ipvsd/ipvs"
)

func newList() *cobra.Command {
	var (
		opts                   listcmd.Options
		tcp, udp, sctp, fwmark string
		ipv6, sorted           bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the IPVS table as ipvsadm -L does, with owners and drift",
		Long: `list prints the kernel's IPVS table byte for byte as ipvsadm 1.31 lists it,
with ipvsadm's listing options (-n, --stats, --rate, --exact, --thresholds,
--persistent-conn, --sort, --nosort, -c, and -t/-u/--sctp-service/-f to show
one service). Beyond ipvsadm: -o json|yaml prints the same data with exact
64-bit counters, --owners names what each virtual server belongs to, and
--drift compares the daemon's desired state with the kernel (no output and
exit status 0 when they agree). list needs no running daemon.`,
		Example: `  ipvsd list -n
  ipvsd list -n --stats --exact
  ipvsd list -n -t 10.96.0.10:80
  ipvsd list -n --owners
  ipvsd list --drift`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			n := 0
			for _, s := range []struct {
				flag  string
				proto ipvs.Protocol
				val   string
			}{{"tcp-service", ipvs.TCP, tcp}, {"udp-service", ipvs.UDP, udp}, {"sctp-service", ipvs.SCTP, sctp}, {"fwmark-service", 0, fwmark}} {
				if !f.Changed(s.flag) {
					continue
				}
				n++
				opts.Service = &listcmd.Selector{Protocol: s.proto, Address: s.val, IPv6: ipv6}
				if s.proto == 0 {
					opts.Service = &listcmd.Selector{FWMark: s.val, IPv6: ipv6}
				}
			}
			if n > 1 {
				return listcmd.ErrMultipleServices
			}
			if ipv6 && opts.Service == nil {
				opts.Service = &listcmd.Selector{IPv6: true}
			}
			return listcmd.Run(opts, listcmd.Deps{}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Numeric, "numeric", "n", false, "print addresses and ports as numbers")
	f.BoolVar(&opts.Stats, "stats", false, "print counters")
	f.BoolVar(&opts.Rate, "rate", false, "print rates")
	f.BoolVar(&opts.Thresholds, "thresholds", false, "print connection thresholds")
	f.BoolVar(&opts.PersistentConn, "persistent-conn", false, "print persistent connection counts (with -c: persistence engine data)")
	f.BoolVarP(&opts.Exact, "exact", "X", false, "print counters unscaled")
	f.BoolVar(&sorted, "sort", false, "sort services and real servers (the default)")
	f.BoolVar(&opts.NoSort, "nosort", false, "list in the kernel's order")
	f.BoolVarP(&opts.Connections, "connection", "c", false, "list the connection table")
	f.StringVarP(&tcp, "tcp-service", "t", "", "list one TCP service: `host[:port]`")
	f.StringVarP(&udp, "udp-service", "u", "", "list one UDP service: `host[:port]`")
	f.StringVar(&sctp, "sctp-service", "", "list one SCTP service: `host[:port]`")
	f.StringVarP(&fwmark, "fwmark-service", "f", "", "list one firewall-mark service: `mark`")
	f.BoolVarP(&ipv6, "ipv6", "6", false, "with -f: the IPv6 firewall-mark service")
	f.BoolVar(&opts.Owners, "owners", false, "add a column naming each virtual server's owner")
	f.BoolVar(&opts.Drift, "drift", false, "print where the kernel differs from the daemon's desired state")
	f.StringVarP(&opts.Output, "output", "o", "", "print `json` or yaml instead of ipvsadm's text")
	f.StringVar(&opts.RunDir, "run-dir", "/run/ipvsd", "where the daemon keeps its ownership record and desired state")
	return cmd
}

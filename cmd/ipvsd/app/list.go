package app

import (
	"github.com/spf13/cobra"

	"github.com/ipvsd/ipvsd/cmd/ipvsd/app/listcmd"
)

func newList() *cobra.Command {
	var flags *listcmd.Flags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the IPVS table as ipvsadm -L does, with owners and drift",
		Long: `list prints the kernel's IPVS table byte for byte as ipvsadm 1.31 lists it,
with ipvsadm's listing options (-n, --stats, --rate, --exact, --thresholds,
--persistent-conn, --sort, --nosort, -c, and -t/-u/--sctp-service/-f to show
one service), combined as ipvsadm takes them (-Ln, -Lnc, --list --numeric).
Beyond ipvsadm: -o json|yaml prints the same data with exact 64-bit
counters, --owners names what each virtual server belongs to, and --drift
compares the daemon's desired state with the kernel (no output and exit
status 0 when they agree). list needs no running daemon.`,
		Example: `  ipvsd list -Ln
  ipvsd list -n --stats --exact
  ipvsd list -Lnc
  ipvsd list -n -t 10.96.0.10:80
  ipvsd list -n --owners
  ipvsd list --drift`,
		Args: func(_ *cobra.Command, args []string) error { return listcmd.NoArgs(args) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := flags.Options(cmd.Flags())
			if err != nil {
				return err
			}
			return listcmd.Run(opts, listcmd.Deps{}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags = listcmd.AddFlags(cmd.Flags())
	return cmd
}

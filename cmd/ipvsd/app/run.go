package app

import (
	"github.com/go-logr/zapr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/ipvsd/ipvsd/controller/kube/daemon"
)

// newRun is `ipvsd run`, the Kubernetes mode. Flags and the config file
// are defined and merged in controller/kube/daemon; this only wires the
// logger and starts it.
func newRun() *cobra.Command {
	cfg := daemon.Defaults()
	var configPath, logLevel string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Replace kube-proxy: program IPVS from Kubernetes Services and EndpointSlices",
		Long: `run watches this node's Node, all Services and EndpointSlices and programs
IPVS, the VIP dummy link and the firewall to match, like kube-proxy's IPVS
mode. Flags override the --config file, whose fields have the same meaning.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := daemon.Load(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			log, err := cliLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			// client-go logs through klog's global logger; route it into
			// ours so there is one log stream with one format.
			klog.SetLogger(zapr.NewLogger(log.Named("client-go")))
			return daemon.Run(cmd.Context(), c, log)
		},
	}
	daemon.BindFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML); flags given on the command line win")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/ipvsd/ipvsd/cmd/ipvsd/app/listcmd"
)

// Version is set at build time with -ldflags "-X ...app.Version=v1.2.3".
var Version = "dev"

// Execute runs the command line args and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return executeRoot(ctx, newRoot(stdout, stderr), args, stderr)
}

func executeRoot(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// A stop asked for (SIGTERM) is a clean stop even when it
			// interrupts start-up, such as the wait for the API server:
			// say what was cut short, but succeed, as a service manager
			// expects of a stopped service.
			fmt.Fprintf(stderr, "ipvsd: stopped: %v\n", err)
			return 0
		}
		if errors.Is(err, listcmd.ErrNoSuchService) {
			// ipvsadm prints this one bare; scripts written for
			// ipvsadm may match on it.
			fmt.Fprintln(stderr, err)
		} else {
			fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		}
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ipvsd",
		Short: "IPVS node load balancer",
		Long: `ipvsd programs Linux IPVS from a desired state: Kubernetes Services and
EndpointSlices (as a kube-proxy replacement) or a standalone YAML file (for
bare-metal hosts). It writes only the difference between what is wanted and
what the kernel has, and never touches virtual servers it does not own.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Version gives the root --version (and -v), as users of most
		// tools, ipvsadm included, expect; it prints what `version` does.
		Version: versionString(),
	}
	root.SetVersionTemplate("ipvsd {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newVersion())
	root.AddCommand(newList(), newStatus())
	root.AddCommand(newStandalone(), newCleanup())
	root.AddCommand(newRun())
	return root
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of ipvsd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "ipvsd %s\n", versionString())
			return nil
		},
	}
}

func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

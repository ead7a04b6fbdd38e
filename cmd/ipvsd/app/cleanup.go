package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
)

type cleanupFlags struct {
	record       string
	iface        string
	iptablesMode string
	logLevel     string
}

func newCleanup() *cobra.Command {
	var f cleanupFlags
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what ipvsd created: its virtual servers, VIPs, iptables chains and ipsets",
		Long: `cleanup removes exactly what ipvsd created and nothing else: the virtual
servers and VIP addresses listed in the ownership record, and the IPVSD-*
iptables chains (with their jumps) and ipvsd-* ipsets. Virtual servers,
addresses, chains and sets of anyone else stay as they are. Stop the daemon
first, or it will put everything back. The dummy interface itself is left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCleanup(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.record, "record", runstate.DefaultRecordPath, "the ownership record")
	fl.StringVar(&f.iface, "interface", hostenv.DefaultInterface, "the dummy interface the VIPs are bound to")
	fl.StringVar(&f.iptablesMode, "iptables-mode", "auto", "iptables back-end to clean: auto, nft, legacy, or none")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func runCleanup(ctx context.Context, stdout, stderr io.Writer, f cleanupFlags) error {
	log, err := cliLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// The link is only looked up, never created: without it no VIP of
	// ours is bound. Sysctls are left as they are.
	env, err := hostenv.Open(hostenv.Options{Interface: f.iface, ExistingLink: true}, log)
	if err != nil {
		return err
	}
	defer env.Close()
	// The reconciler with an empty desired state deletes exactly the
	// virtual servers and addresses its record names.
	engine, err := reconciler.New(reconciler.Config{RecordPath: f.record}, env.Deps(log))
	if err != nil {
		return err
	}
	res, serr := engine.Sync(ctx, desired.State{})
	fmt.Fprintf(stdout, "removed %d virtual servers and %d addresses\n", res.Services.Deleted, res.Addresses.Deleted)
	if serr != nil {
		serr = fmt.Errorf("removing virtual servers and addresses: %w", serr)
	}
	return errors.Join(serr, cleanupFirewall(ctx, stdout, f.iptablesMode, log))
}

// cleanupFirewall removes our chains, jumps and sets. With auto, both
// back-ends are cleaned: the one the daemon detected then may not be the
// one detection would pick now. A back-end whose tools are missing cannot
// hold any of our rules and is skipped.
func cleanupFirewall(ctx context.Context, stdout io.Writer, mode string, log *zap.Logger) error {
	modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
	switch mode {
	case "none":
		return nil
	case "auto", "":
	default:
		m, err := firewall.ParseMode(mode)
		if err != nil {
			return err
		}
		modes = []firewall.Mode{m}
	}
	var failed []*firewall.Firewall
	var errs []error
	for _, m := range modes {
		fw, err := firewall.New(ctx, log.Named("firewall"), firewall.Config{Mode: m})
		if errors.Is(err, exec.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("firewall %s: %w", m, err))
			continue
		}
		if err := fw.Cleanup(ctx); err != nil {
			failed = append(failed, fw)
			continue
		}
		fmt.Fprintf(stdout, "removed the %s* iptables chains (%s) and the %s* ipsets\n", firewall.ChainPrefix, m, firewall.SetPrefix)
	}
	// Our sets cannot be destroyed while the other back-end's rules still
	// reference them; once every back-end's rules are gone a second try
	// succeeds.
	for _, fw := range failed {
		if err := fw.Cleanup(ctx); err != nil {
			errs = append(errs, fmt.Errorf("removing %s firewall rules: %w", fw.Mode(), err))
			continue
		}
		fmt.Fprintf(stdout, "removed the %s* iptables chains (%s) and the %s* ipsets\n", firewall.ChainPrefix, fw.Mode(), firewall.SetPrefix)
	}
	return errors.Join(errs...)
}

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/bgp"
	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/failover"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/kubeproxy"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

type cleanupFlags struct {
	record       string
	iface        string
	iptablesMode string
	logLevel     string
	kubeProxy    bool
	// config, if set, is the standalone file whose bgp: peers are told
	// to drop our routes, within bgpTimeout.
	config     string
	bgpTimeout time.Duration
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
first, or it will put everything back. The dummy interface itself is left.

Each part is cleaned on its own: without the ip_vs module, ipset, or one
iptables back-end's tools, everything else is still removed, and the exit
status is non-zero with each part that could not be cleaned named.

With --kube-proxy it removes what kube-proxy's IPVS mode left instead
(stopped without its own cleanup, or for a rollback): the virtual servers
its ipsets and kube-ipvs0 name, except those ipvsd's record owns, the
kube-ipvs0 link, and kube-proxy's KUBE-* chains (of its IPVS and iptables
modes), the rules jumping into them and its ipsets, in both iptables
back-ends. ipvsd's own state and everyone else's stay.

With --config FILE, a standalone file with a bgp: section, it first
withdraws every route from the peers named there: a daemon stopped with
SIGTERM left its routes with the peers that negotiated graceful restart,
and they would keep them (stale) for the restart time. It opens a session
with each peer announcing nothing, whose End-of-RIB makes the peer drop
them, and closes it with a Cease. A peer it cannot reach within
--bgp-timeout is named, and the exit status is non-zero.`,
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
	fl.BoolVar(&f.kubeProxy, "kube-proxy", false, "remove kube-proxy's leftovers instead of ipvsd's own state")
	fl.StringVar(&f.config, "config", "", "the standalone config file: withdraw our routes from its bgp: peers first")
	fl.DurationVar(&f.bgpTimeout, "bgp-timeout", 30*time.Second, "how long to wait for the sessions with the bgp: peers")
	return cmd
}

func runCleanup(ctx context.Context, stdout, stderr io.Writer, f cleanupFlags) error {
	log, err := cliLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// A mistyped mode is refused before anything is touched.
	modes, err := cleanupModes(f.iptablesMode)
	if err != nil {
		return err
	}
	if f.kubeProxy {
		return cleanupKubeProxy(ctx, stdout, log, f, modes)
	}
	parts := cleanupParts{
		ipvs: func(ctx context.Context) (reconciler.Result, error) { return cleanupIPVS(ctx, f, log) },
		syncDaemons: func() (failover.Result, error) {
			return cleanupSyncDaemons(runstate.SyncDaemonStore{Path: runstate.SyncDaemonsPath(f.record)}, openSyncDaemons, log)
		},
		modes:    modes,
		firewall: firewall.HostCleanupTools(firewall.HostExec{}, ""),
	}
	if f.config != "" {
		// A file that is not valid is refused before anything is touched.
		cfg, _, err := config.Load(f.config)
		if err != nil {
			return err
		}
		if cfg.BGP != nil {
			parts.bgp = func(ctx context.Context) (int, error) { return cleanupBGP(ctx, log, cfg.BGP, f.bgpTimeout) }
		}
	}
	return cleanup(ctx, stdout, log, parts)
}

// cleanupBGP withdraws our routes from every peer of c (bgp.Withdraw).
func cleanupBGP(ctx context.Context, log *zap.Logger, c *config.BGP, timeout time.Duration) (int, error) {
	bc, err := bgpConfig(c, netlinkutil.FirstIPv4Toward)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return len(bc.Peers), bgp.Withdraw(ctx, log, bgp.NewGoBGP(log, nil), *bc)
}

// cleanupParts are what cleanup removes, each found on its own: a host
// without the ip_vs module, without ipset or without one iptables back-end
// still gets every other part cleaned.
type cleanupParts struct {
	// bgp, if set, withdraws our routes from the BGP peers (first, so
	// traffic leaves the director before its services go) and returns
	// how many peers it told.
	bgp func(context.Context) (int, error)
	// ipvs removes our virtual servers and VIP addresses.
	ipvs func(context.Context) (reconciler.Result, error)
	// syncDaemons stops the connection sync daemons ipvsd started.
	syncDaemons func() (failover.Result, error)
	// modes are the iptables back-ends to clean (none with
	// --iptables-mode none), with the tools in firewall.
	modes    []firewall.Mode
	firewall firewall.CleanupTools
}

// cleanup runs every part, prints what each removed and returns, joined,
// what each could not, named by part.
func cleanup(ctx context.Context, stdout io.Writer, log *zap.Logger, p cleanupParts) error {
	var errs []error
	if p.bgp != nil {
		n, err := p.bgp(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("withdrawing BGP routes: %w", err))
		} else {
			fmt.Fprintf(stdout, "withdrew every BGP route from %d peers\n", n)
		}
	}
	res, err := p.ipvs(ctx)
	fmt.Fprintf(stdout, "removed %d virtual servers and %d addresses\n", res.Services.Deleted, res.Addresses.Deleted)
	if err != nil {
		errs = append(errs, fmt.Errorf("removing virtual servers and addresses: %w", err))
	}
	if p.syncDaemons != nil {
		res, err := p.syncDaemons()
		for _, r := range res.Stopped {
			fmt.Fprintf(stdout, "stopped the %s sync daemon\n", r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stopping sync daemons: %w", err))
		}
	}
	if len(p.modes) > 0 {
		rep, err := firewall.CleanupHost(ctx, log.Named("firewall"), p.modes, p.firewall)
		for _, m := range rep.Chains {
			fmt.Fprintf(stdout, "removed the %s* iptables chains (%s)\n", firewall.ChainPrefix, m)
		}
		if rep.Sets {
			fmt.Fprintf(stdout, "removed the %s* ipsets\n", firewall.SetPrefix)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing firewall rules and sets: %w", err))
		}
	}
	return errors.Join(errs...)
}

// cleanupIPVS deletes exactly the virtual servers and addresses the
// record names: the reconciler with an empty desired state does that.
func cleanupIPVS(ctx context.Context, f cleanupFlags, log *zap.Logger) (reconciler.Result, error) {
	// The link is only looked up, never created: without it no VIP of
	// ours is bound. Sysctls are left as they are.
	env, err := hostenv.Open(hostenv.Options{Interface: f.iface, ExistingLink: true}, log)
	if err != nil {
		return reconciler.Result{}, err
	}
	defer env.Close()
	engine, err := reconciler.New(reconciler.Config{RecordPath: f.record}, env.Deps(log))
	if err != nil {
		return reconciler.Result{}, err
	}
	return engine.Sync(ctx, desired.State{})
}

// cleanupSyncDaemons stops the sync daemons the record says ipvsd
// started, if they still run as it started them; any other daemon stays.
// Without a record the kernel is not even opened, so a host without
// ip_vs (or that never ran a sync: section) has nothing to fail here.
func cleanupSyncDaemons(rec runstate.SyncDaemonStore, open func() (syncDaemonsHandle, error), log *zap.Logger) (failover.Result, error) {
	owned, err := rec.Load()
	if err != nil || len(owned) == 0 {
		return failover.Result{}, err
	}
	h, err := open()
	if err != nil {
		return failover.Result{}, err
	}
	defer h.Close()
	return failover.New(failover.Deps{Daemons: h, Record: rec, Log: log.Named("failover")}).Ensure(failover.Desired{}, true)
}

// syncDaemonsHandle is the sync daemon part of an IPVS handle.
type syncDaemonsHandle interface {
	ipvs.SyncDaemons
	Close() error
}

func openSyncDaemons() (syncDaemonsHandle, error) {
	h, err := ipvs.New("")
	if err != nil {
		return nil, fmt.Errorf("opening IPVS: %w", err)
	}
	return h, nil
}

// cleanupModes are the back-ends --iptables-mode asks to clean. With auto,
// both: the one the daemon detected then may not be the one detection
// would pick now. A back-end whose tools are missing cannot hold any of our
// rules and is skipped by firewall.CleanupHost.
func cleanupModes(mode string) ([]firewall.Mode, error) {
	switch mode {
	case "none":
		return nil, nil
	case "auto", "":
		return []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}, nil
	}
	m, err := firewall.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	return []firewall.Mode{m}, nil
}

// cleanupKubeProxy removes kube-proxy's leftovers, sparing what the
// ownership record says is ipvsd's.
func cleanupKubeProxy(ctx context.Context, stdout io.Writer, log *zap.Logger, f cleanupFlags, modes []firewall.Mode) error {
	store := runstate.OwnershipStore{Path: f.record}
	owned, err := store.Load()
	if err != nil {
		return err
	}
	env, err := hostenv.Open(hostenv.Options{Interface: f.iface, ExistingLink: true}, log)
	if err != nil {
		return err
	}
	defer env.Close()
	left, err := findKubeProxy(ctx, env, modes, log)
	if err != nil {
		return err
	}
	rep, err := left.remove(ctx, owned.Services)
	link := "no " + kubeproxy.LinkName + " (none there)"
	if rep.LinkDeleted {
		link = "the " + kubeproxy.LinkName + " link"
	}
	fmt.Fprintf(stdout, "removed kube-proxy's leftovers: %d virtual servers, %s, %d iptables chains with %d jumps into them, %d ipsets\n",
		rep.ServicesDeleted, link, rep.Firewall.Chains, rep.Firewall.Jumps, len(rep.Firewall.Sets))
	if err != nil {
		return fmt.Errorf("removing kube-proxy's leftovers: %w", err)
	}
	return nil
}

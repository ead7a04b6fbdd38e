package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Plan is the removal of kube-proxy's leftovers once ipvsd has adopted
// the virtual servers it wants.
type Plan struct {
	// Adopted are kube-proxy's virtual servers that ipvsd now owns: they
	// stay as they are, with their connections.
	Adopted []ipvs.Key
	// Remove are kube-proxy's virtual servers ipvsd does not want (or,
	// offline, all of kube-proxy's that ipvsd does not own).
	Remove []ipvs.Key
}

// NewPlan splits kube-proxy's virtual servers by whether ipvsd owns them.
func NewPlan(kubeProxy []ipvs.Key, owned map[ipvs.Key]string) Plan {
	var p Plan
	for _, k := range kubeProxy {
		if _, ok := owned[k]; ok {
			p.Adopted = append(p.Adopted, k)
		} else {
			p.Remove = append(p.Remove, k)
		}
	}
	slices.SortFunc(p.Adopted, ipvs.Key.Compare)
	slices.SortFunc(p.Remove, ipvs.Key.Compare)
	return p
}

// Steps of Remove, in the order it runs them.
const (
	StepFirewall = "remove kube-proxy's iptables chains, jumps and ipsets"
	StepLink     = "delete " + LinkName
	StepServices = "delete kube-proxy's virtual servers that ipvsd does not want"
)

// Deps are what Remove drives.
type Deps struct {
	// Firewall removes kube-proxy's chains, jumps and sets
	// (firewall.CleanupKubeProxy); nil leaves the firewall alone
	// (--iptables-mode none).
	Firewall func(context.Context) (firewall.KubeProxyReport, error)
	// DeleteLink deletes kube-ipvs0, reporting whether it was there.
	DeleteLink func() (bool, error)
	// Kernel deletes virtual servers.
	Kernel interface{ DeleteService(ipvs.Key) error }
	Log    *zap.Logger
}

// Report says what Remove did.
type Report struct {
	Steps           []string // the steps run, in order
	Firewall        firewall.KubeProxyReport
	LinkDeleted     bool
	ServicesDeleted int
}

// Remove removes kube-proxy's leftovers in the order that keeps every
// established connection: its firewall rules and sets first (ipvsd's own
// are installed by then, so nothing is left unfiltered or unmasqueraded),
// then kube-ipvs0 (its addresses that are still wanted are bound to
// ipvsd's link by then), and last the virtual servers nobody wants. Each
// step is logged; a step that fails does not stop the later ones, whose
// safety does not depend on it, and every failure is returned, joined,
// naming its step. Run it again after a failure: every step is idempotent.
func Remove(ctx context.Context, p Plan, d Deps) (Report, error) {
	log := d.Log
	if log == nil {
		log = zap.NewNop()
	}
	var rep Report
	var errs []error
	if d.Firewall != nil {
		rep.Steps = append(rep.Steps, StepFirewall)
		fw, err := d.Firewall(ctx)
		rep.Firewall = fw
		log.Info(StepFirewall, zap.Int("chains", fw.Chains), zap.Int("jumps", fw.Jumps), zap.Strings("sets", fw.Sets), zap.Error(err))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", StepFirewall, err))
		}
	}
	rep.Steps = append(rep.Steps, StepLink)
	deleted, err := d.DeleteLink()
	rep.LinkDeleted = deleted
	log.Info(StepLink, zap.Bool("wasThere", deleted), zap.Error(err))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", StepLink, err))
	}
	rep.Steps = append(rep.Steps, StepServices)
	n, err := deleteServices(d.Kernel, p.Remove, log)
	rep.ServicesDeleted = n
	log.Info(StepServices, zap.Int("deleted", n), zap.Int("adoptedAndKept", len(p.Adopted)), zap.Error(err))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", StepServices, err))
	}
	return rep, errors.Join(errs...)
}

// deleteServices deletes keys; one already gone (ESRCH) is what was
// wanted.
func deleteServices(k interface{ DeleteService(ipvs.Key) error }, keys []ipvs.Key, log *zap.Logger) (int, error) {
	var n int
	var errs []error
	for _, key := range keys {
		err := k.DeleteService(key)
		switch {
		case err == nil:
			n++
			log.Info("deleted kube-proxy's virtual server", zap.Stringer("service", key))
		case errors.Is(err, unix.ESRCH):
		default:
			errs = append(errs, fmt.Errorf("deleting virtual server %s: %w", key, err))
		}
	}
	return n, errors.Join(errs...)
}

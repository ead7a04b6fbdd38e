package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/kubeproxy"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
)

// kubeProxyLeftovers is what kube-proxy left on this node, found from its
// own bookkeeping, and the tools to remove it.
type kubeProxyLeftovers struct {
	book     kubeproxy.Bookkeeping
	services []ipvs.Key // kube-proxy's virtual servers in the kernel
	deps     kubeproxy.Deps
}

// findKubeProxy reads kube-proxy's bookkeeping and the IPVS table. modes
// are the iptables back-ends to clean of kube-proxy's rules (none: the
// firewall is left alone).
func findKubeProxy(ctx context.Context, env *hostenv.Env, modes []firewall.Mode, log *zap.Logger) (*kubeProxyLeftovers, error) {
	tools := firewall.HostCleanupTools(firewall.HostExec{}, "")
	sets, err := tools.IPSet(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube-proxy's leftovers: %w", err)
	}
	link := env.OtherDummy(kubeproxy.LinkName)
	book, err := kubeproxy.Read(ctx, link, sets)
	if err != nil {
		return nil, fmt.Errorf("kube-proxy's leftovers: %w", err)
	}
	table, err := env.IPVS.Dump()
	if err != nil {
		return nil, fmt.Errorf("kube-proxy's leftovers: reading IPVS: %w", err)
	}
	k := &kubeProxyLeftovers{book: book, services: book.Services(kubeproxy.Keys(table))}
	k.deps = kubeproxy.Deps{DeleteLink: link.Delete, Kernel: env.IPVS, Log: log}
	if len(modes) > 0 {
		k.deps.Firewall = func(ctx context.Context) (firewall.KubeProxyReport, error) {
			return firewall.CleanupKubeProxy(ctx, log.Named("firewall"), modes, tools)
		}
	}
	log.Info("found kube-proxy's leftovers", zap.Bool(kubeproxy.LinkName, book.Link), zap.Int("addresses", len(book.LinkAddrs)),
		zap.Int("ipsets", len(book.Sets)), zap.Int("virtualServers", len(k.services)), zap.Int("allVirtualServers", len(table)))
	return k, nil
}

// adoptable is what the reconciler may take over.
func (k *kubeProxyLeftovers) adoptable() reconciler.Adoptable {
	a := reconciler.Adoptable{Services: map[ipvs.Key]bool{}, Addresses: map[netip.Addr]bool{}}
	for _, s := range k.services {
		a.Services[s] = true
	}
	for addr := range k.book.LinkAddrs {
		a.Addresses[addr] = true
	}
	return a
}

// remove removes what ipvsd did not adopt (owned: the ownership record).
func (k *kubeProxyLeftovers) remove(ctx context.Context, owned map[ipvs.Key]string) (kubeproxy.Report, error) {
	return kubeproxy.Remove(ctx, kubeproxy.NewPlan(k.services, owned), k.deps)
}

// programSource is what the programmer uses of the informer source.
type programSource interface {
	dataplane.Source
	dataplane.ConflictReporter
}

// takeOverSource is the Kubernetes source of a daemon taking over a
// kube-proxy node: after the first sync that programmed everything
// without error (ipvsd's virtual servers, adopted in place, its VIPs and
// its firewall rules and sets), it removes kube-proxy's leftovers, once.
// Until then kube-proxy's rules stay beside ipvsd's, and the first sync
// that fails says the take-over waits for it.
type takeOverSource struct {
	programSource
	ctx context.Context
	// remove removes the leftovers ipvsd did not adopt; owned is the
	// ownership record; done ends the adoption.
	remove  func(ctx context.Context, owned map[ipvs.Key]string) (kubeproxy.Report, error)
	owned   func() map[ipvs.Key]string
	done    func()
	log     *zap.Logger
	taken   bool
	waiting bool // a sync failed and said so
}

func newTakeOverSource(ctx context.Context, src programSource, left *kubeProxyLeftovers, engine *reconciler.Reconciler, log *zap.Logger) *takeOverSource {
	return &takeOverSource{
		programSource: src, ctx: ctx, remove: left.remove, log: log,
		owned: engine.OwnedServices,
		done:  func() { engine.Adopt(reconciler.Adoptable{}) },
	}
}

func (s *takeOverSource) Programmed(err error) error {
	perr := s.programSource.Programmed(err)
	if s.taken {
		return perr
	}
	if err != nil {
		if !s.waiting {
			s.log.Warn("take-over of kube-proxy waits for a sync without errors; kube-proxy's rules stay until then", zap.Error(err))
			s.waiting = true
		}
		return perr
	}
	rep, rerr := s.remove(s.ctx, s.owned())
	if rerr != nil {
		s.log.Error("take-over of kube-proxy incomplete; trying again after the next sync", zap.Error(rerr))
		return errors.Join(perr, fmt.Errorf("taking over kube-proxy: %w", rerr))
	}
	s.taken = true
	s.done()
	s.log.Info("took over kube-proxy", zap.Strings("steps", rep.Steps), zap.Int("chainsRemoved", rep.Firewall.Chains),
		zap.Int("jumpsRemoved", rep.Firewall.Jumps), zap.Int("ipsetsRemoved", len(rep.Firewall.Sets)),
		zap.Bool("linkDeleted", rep.LinkDeleted), zap.Int("virtualServersDeleted", rep.ServicesDeleted))
	return perr
}

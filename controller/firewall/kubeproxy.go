package firewall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
)

// kubeProxyChains are the chains kube-proxy creates by name, in its IPVS
// mode (pkg/proxy/ipvs: iptablesChains) and its iptables mode
// (pkg/proxy/iptables). KUBE-FIREWALL, KUBE-KUBELET-CANARY and
// KUBE-MARK-DROP are the kubelet's, not kube-proxy's, and stay.
var kubeProxyChains = map[string]bool{
	"KUBE-SERVICES": true, "KUBE-EXTERNAL-SERVICES": true, "KUBE-NODEPORTS": true,
	"KUBE-NODE-PORT": true, "KUBE-POSTROUTING": true, "KUBE-MARK-MASQ": true,
	"KUBE-FORWARD": true, "KUBE-PROXY-FIREWALL": true, "KUBE-SOURCE-RANGES-FIREWALL": true,
	"KUBE-PROXY-CANARY": true, "KUBE-LOAD-BALANCER": true,
	"KUBE-IPVS-FILTER": true, "KUBE-IPVS-OUT-FILTER": true,
}

// kubeProxyChainPrefixes are the per-service chains of kube-proxy's
// iptables mode (service, local, firewall, external and endpoint chains;
// KUBE-XLB- before 1.24).
var kubeProxyChainPrefixes = []string{"KUBE-SVC-", "KUBE-SVL-", "KUBE-FW-", "KUBE-EXT-", "KUBE-SEP-", "KUBE-XLB-"}

// IsKubeProxyChain reports whether an iptables chain is kube-proxy's.
func IsKubeProxyChain(name string) bool {
	return kubeProxyChains[name] || slices.ContainsFunc(kubeProxyChainPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

// kubeProxySets are the ipsets of kube-proxy's IPVS mode (pkg/proxy/ipvs
// ipsetInfo); its IPv6 proxier names each with KUBE-6- for KUBE-.
var kubeProxySets = []string{
	"KUBE-LOOP-BACK", "KUBE-CLUSTER-IP", "KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL",
	"KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER-LOCAL", "KUBE-LOAD-BALANCER-FW",
	"KUBE-LOAD-BALANCER-SOURCE-IP", "KUBE-LOAD-BALANCER-SOURCE-CIDR",
	"KUBE-NODE-PORT-TCP", "KUBE-NODE-PORT-LOCAL-TCP", "KUBE-NODE-PORT-UDP", "KUBE-NODE-PORT-LOCAL-UDP",
	"KUBE-NODE-PORT-SCTP-HASH", "KUBE-NODE-PORT-LOCAL-SCTP-HASH", "KUBE-HEALTH-CHECK-NODE-PORT",
	"KUBE-IPVS-IPS",
}

// KubeProxySetName is kube-proxy's name for one of its sets in family f:
// base ("KUBE-CLUSTER-IP") for IPv4, KUBE-6-... for IPv6, cut to the 31
// bytes a set name may have, as kube-proxy cuts it
// (KUBE-6-LOAD-BALANCER-SOURCE-CID).
func KubeProxySetName(base string, f ipvs.Family) string {
	if f == ipvs.IPv6 {
		base = strings.Replace(base, "KUBE-", "KUBE-6-", 1)
	}
	if len(base) > maxSetName {
		base = base[:maxSetName]
	}
	return base
}

// maxSetName is IPSET_MAXNAMELEN less its NUL.
const maxSetName = 31

// IsKubeProxySet reports whether an ipset is one kube-proxy creates.
func IsKubeProxySet(name string) bool {
	for _, b := range kubeProxySets {
		if name == b || name == KubeProxySetName(b, ipvs.IPv6) {
			return true
		}
	}
	return false
}

// kubeProxyTables are the tables kube-proxy writes chains in (mangle:
// the iptables mode's canary).
var kubeProxyTables = []string{"nat", "filter", "mangle"}

// kubeProxyCleanupText renders iptables-restore --noflush input that
// removes kube-proxy's part of one table from its iptables-save text:
// every rule of another chain that jumps or goes to one of kube-proxy's
// chains (with whatever conditions it was written), then kube-proxy's
// chains, all flushed before any is deleted since they reference one
// another. Every other line stays. It returns "" when the table holds
// nothing of kube-proxy's, and how many chains and jumps it removes.
func kubeProxyCleanupText(table, save string) (text string, chains, jumps int) {
	var names, dels []string
	for _, line := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			if IsKubeProxyChain(name) {
				names = append(names, name)
			}
		case strings.HasPrefix(line, "-A "):
			chain, rule, _ := strings.Cut(line[3:], " ")
			if !IsKubeProxyChain(chain) && IsKubeProxyChain(ruleTarget(rule)) {
				dels = append(dels, "-D "+chain+" "+rule)
			}
		}
	}
	if len(names) == 0 && len(dels) == 0 {
		return "", 0, 0
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("*" + table + "\n")
	for _, d := range dels {
		b.WriteString(d + "\n")
	}
	for _, n := range names {
		b.WriteString("-F " + n + "\n")
	}
	for _, n := range names {
		b.WriteString("-X " + n + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String(), len(names), len(dels)
}

// ruleTarget is the chain a saved rule jumps (-j) or goes (-g) to, "" if
// none.
func ruleTarget(rule string) string {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-j" || f[i] == "-g" || f[i] == "--jump" || f[i] == "--goto" {
			return f[i+1]
		}
	}
	return ""
}

// KubeProxyReport says what CleanupKubeProxy removed.
type KubeProxyReport struct {
	// Chains and Jumps count the chains and the rules jumping into them
	// removed, over every back-end, family and table.
	Chains, Jumps int
	// Sets are the ipsets destroyed.
	Sets []string
}

// CleanupKubeProxy removes kube-proxy's chains and the rules jumping into
// them from every table of each back-end of modes in both families
// (kube-proxy writes through whichever iptables its image ships, and a
// node may have run it with both), then destroys its ipsets, which the
// kernel refuses while a rule references them. Everything else, ipvsd's
// IPVSD-* chains and ipvsd-* sets and every other program's, stays as it
// is. A back-end without tools holds nothing to clean and is skipped;
// every other failure is reported, joined, naming its back-end, family
// and table or the set, and the rest is still cleaned.
func CleanupKubeProxy(ctx context.Context, log *zap.Logger, modes []Mode, tools CleanupTools) (KubeProxyReport, error) {
	var rep KubeProxyReport
	var errs []error
	for _, m := range modes {
		for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
			ipt, err := tools.IPTables(ctx, m, f)
			if errors.Is(err, ErrNotInstalled) {
				log.Debug("no iptables tools", zap.String("mode", string(m)), zap.Stringer("family", f), zap.Error(err))
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("iptables %s %s: %w", m, f, err))
				continue
			}
			errs = append(errs, removeKubeProxyChains(ctx, log, ipt, m, f, &rep))
		}
	}
	sets, err := tools.IPSet(ctx)
	if err == nil {
		rep.Sets, err = destroyKubeProxySets(ctx, sets)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("kube-proxy's ipsets: %w", err))
	}
	return rep, errors.Join(errs...)
}

// removeKubeProxyChains cleans one back-end and family, table by table so
// that one refused keeps none of the others.
func removeKubeProxyChains(ctx context.Context, log *zap.Logger, ipt IPTables, m Mode, f ipvs.Family, rep *KubeProxyReport) error {
	var errs []error
	for _, table := range kubeProxyTables {
		save, err := ipt.Save(ctx, table)
		if err != nil {
			errs = append(errs, fmt.Errorf("iptables %s %s: %w", m, f, err))
			continue
		}
		text, chains, jumps := kubeProxyCleanupText(table, save)
		if text == "" {
			continue
		}
		if err := ipt.Restore(ctx, text); err != nil {
			errs = append(errs, fmt.Errorf("removing kube-proxy's chains from iptables %s %s table %s: %w", m, f, table, err))
			continue
		}
		rep.Chains += chains
		rep.Jumps += jumps
		log.Info("removed kube-proxy's chains", zap.String("mode", string(m)), zap.Stringer("family", f),
			zap.String("table", table), zap.Int("chains", chains), zap.Int("jumps", jumps))
	}
	return errors.Join(errs...)
}

// destroyKubeProxySets destroys kube-proxy's sets that exist, each on its
// own (see destroyEach).
func destroyKubeProxySets(ctx context.Context, sets IPSet) ([]string, error) {
	names, err := sets.Names(ctx)
	if err != nil {
		return nil, err
	}
	return destroyEach(ctx, sets, slices.DeleteFunc(names, func(n string) bool { return !IsKubeProxySet(n) }))
}

// ReadKubeProxySets returns kube-proxy's sets that exist, each with its
// entries as `ipset save` prints them ("10.96.0.1,tcp:443", "30080"):
// they are its record of which service addresses and node ports it
// programmed.
func ReadKubeProxySets(ctx context.Context, sets IPSet) (map[string][]string, error) {
	names, err := sets.Names(ctx)
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !IsKubeProxySet(n) })
	out := make(map[string][]string, len(names))
	if len(names) == 0 {
		return out, nil
	}
	save, err := sets.Save(ctx, names)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(save, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "create" && IsKubeProxySet(f[1]):
			if out[f[1]] == nil {
				out[f[1]] = []string{}
			}
		case len(f) >= 3 && f[0] == "add" && IsKubeProxySet(f[1]):
			out[f[1]] = append(out[f[1]], f[2])
		}
	}
	return out, nil
}

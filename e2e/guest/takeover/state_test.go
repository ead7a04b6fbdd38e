//go:build lab

package takeover

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

// kubeletChains are the kubelet's KUBE-* chains: not kube-proxy's, so
// they must stay.
var kubeletChains = []string{"KUBE-KUBELET-CANARY", "KUBE-FIREWALL"}

// addForeignIPVS adds an IPVS service that is neither kube-proxy's nor
// ipvsd's. Only once kube-proxy is stopped: its IPVS mode deletes every
// virtual server it did not make (outside ipvs.excludeCIDRs) at each sync.
func addForeignIPVS(t *testing.T) {
	t.Helper()
	guestutil.Run(t, "ipvsadm", "-A", "-t", "192.0.2.99:80", "-s", "wlc")
	guestutil.Run(t, "ipvsadm", "-a", "-t", "192.0.2.99:80", "-r", "10.244.1.2:9000", "-m", "-w", "3")
	t.Cleanup(func() { _ = exec.Command("ipvsadm", "-D", "-t", "192.0.2.99:80").Run() })
}

// addForeignRules puts firewall state into the kernel that is neither
// kube-proxy's nor ipvsd's: an iptables chain with a jump into it, a
// kubelet canary chain and an ipset.
func addForeignRules(t *testing.T) {
	t.Helper()
	for _, c := range [][]string{
		{"ipset", "create", "foreign-test", "hash:ip"},
		{"ipset", "add", "foreign-test", "192.0.2.7"},
		{"iptables", "-N", "FOREIGN-TEST"},
		{"iptables", "-A", "FOREIGN-TEST", "-m", "set", "--match-set", "foreign-test", "src", "-j", "RETURN"},
		{"iptables", "-A", "INPUT", "-j", "FOREIGN-TEST"},
		{"iptables", "-t", "nat", "-N", "KUBE-KUBELET-CANARY"},
	} {
		guestutil.Run(t, c[0], c[1:]...)
	}
	t.Cleanup(func() {
		for _, c := range [][]string{
			{"iptables", "-D", "INPUT", "-j", "FOREIGN-TEST"},
			{"iptables", "-F", "FOREIGN-TEST"},
			{"iptables", "-X", "FOREIGN-TEST"},
			{"iptables", "-t", "nat", "-X", "KUBE-KUBELET-CANARY"},
			{"ipset", "destroy", "foreign-test"},
		} {
			_ = exec.Command(c[0], c[1:]...).Run()
		}
	})
}

// foreignState is the foreign part of the kernel's state as the tools
// print it: the foreign IPVS service, every iptables line of the foreign
// and kubelet chains, the foreign set.
func foreignState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.Split(guestutil.Run(t, "ipvsadm", "-Sn"), "\n") {
		if strings.Contains(l, "192.0.2.99:80") {
			b.WriteString(l + "\n")
		}
	}
	for _, m := range []string{"iptables-nft-save", "iptables-legacy-save"} {
		for _, l := range strings.Split(guestutil.Run(t, m), "\n") {
			if strings.Contains(l, "FOREIGN-TEST") || strings.Contains(l, "KUBE-KUBELET-CANARY") {
				b.WriteString(m + ": " + l + "\n")
			}
		}
	}
	b.WriteString(guestutil.Run(t, "ipset", "save", "foreign-test"))
	return b.String()
}

// kubeProxyLeft lists what of kube-proxy is still on the node: KUBE-*
// chains other than the kubelet's (in either back-end), KUBE-* ipsets,
// kube-ipvs0. Empty when nothing is.
func kubeProxyLeft(t testing.TB) []string {
	t.Helper()
	var left []string
	for _, m := range []string{"iptables-nft-save", "iptables-legacy-save"} {
		out, err := output(m)
		if err != nil {
			return []string{err.Error()}
		}
		for _, l := range strings.Split(out, "\n") {
			if !strings.HasPrefix(l, ":KUBE-") && !strings.Contains(l, "-j KUBE-") {
				continue
			}
			kubelet := false
			for _, c := range kubeletChains {
				kubelet = kubelet || strings.Contains(l, c)
			}
			if !kubelet {
				left = append(left, m+": "+l)
			}
		}
	}
	sets, err := output("ipset", "list", "-n")
	if err != nil {
		return []string{err.Error()}
	}
	for _, s := range strings.Fields(sets) {
		if strings.HasPrefix(s, "KUBE-") {
			left = append(left, "ipset "+s)
		}
	}
	if exec.Command("/sbin/ip", "link", "show", "kube-ipvs0").Run() == nil {
		left = append(left, "link kube-ipvs0")
	}
	return left
}

// waitKubeProxySynced waits until kube-proxy's ipsets and iptables name
// the ClusterIP and the node port: it writes them after the virtual
// servers, and a kube-proxy stopped before that leaves no bookkeeping.
func waitKubeProxySynced(t *testing.T, kp *guestutil.Proc, clusterIP string, nodePort int32) {
	t.Helper()
	guestutil.Eventually(t, 2*time.Minute, func() string {
		kp.Check(t)
		sets, err := output("ipset", "save")
		if err != nil {
			return err.Error()
		}
		nat, err := output("iptables-save", "-t", "nat")
		if err != nil {
			return err.Error()
		}
		for _, want := range []string{"add KUBE-CLUSTER-IP " + clusterIP + ",tcp:9000", fmt.Sprintf("add KUBE-NODE-PORT-TCP %d", nodePort)} {
			if !strings.Contains(sets, want) {
				return "kube-proxy's ipsets lack " + want + ":\n" + sets
			}
		}
		if !strings.Contains(nat, "--match-set KUBE-CLUSTER-IP") {
			return "kube-proxy's nat rules are not written yet:\n" + nat
		}
		return ""
	})
}

//go:build lab

package takeover

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

// TestCleanupKubeProxy: on a node the real kube-proxy ran in iptables mode
// and then in IPVS mode, stopped without its own cleanup, with iptables-
// mode leftovers in the legacy back-end too, `ipvsd cleanup --kube-proxy`
// removes every KUBE-* chain, jump and ipset of kube-proxy's (the
// kubelet's stay), kube-ipvs0 and kube-proxy's virtual servers, and
// leaves the foreign state as it was.
func TestCleanupKubeProxy(t *testing.T) {
	c := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	guestutil.EnsureNode(t, c, nodeName, nodeIP, testNS)
	// A rollback from ipvsd (TestTakeOver, in the file before this one,
	// ran first): ipvsd's own cleanup, then kube-proxy again.
	guestutil.Run(t, "ipvsd", "cleanup")
	n := newNetwork(t)
	cip := echoService(t, c, n, "cip2", false)
	np := echoService(t, c, n, "np2", true)
	cipAddr := cip.Spec.ClusterIP + ":9000"
	npAddr := fmt.Sprintf("%s:%d", nodeIP, np.Spec.Ports[0].NodePort)
	addForeignRules(t)

	ipt := guestutil.Start(t, "kube-proxy", "--config="+proxyConfigMode(t, "iptables"), "--v=2")
	guestutil.Eventually(t, 3*time.Minute, func() string {
		ipt.Check(t)
		if nat, err := output("iptables-save", "-t", "nat"); err != nil || !strings.Contains(nat, ":KUBE-SVC-") {
			return fmt.Sprintf("kube-proxy (iptables mode) has not written its service chains (%v):\n%s", err, nat)
		}
		return ""
	})
	ipt.Stop(t, syscall.SIGTERM)
	kp := startKubeProxy(t, proxyConfig(t), 2, "TCP "+cipAddr, "TCP "+npAddr)
	waitKubeProxySynced(t, kp, cip.Spec.ClusterIP, np.Spec.Ports[0].NodePort)
	kp.Stop(t, syscall.SIGTERM)
	checkKubeProxyLog(t, kp)
	addForeignIPVS(t)
	foreign := foreignState(t)
	// What an iptables-mode kube-proxy writing through iptables-legacy
	// leaves (the lab's images default to nft).
	for _, r := range [][]string{
		{"-t", "nat", "-N", "KUBE-SERVICES"},
		{"-t", "nat", "-N", "KUBE-SVC-LEGACYLEGACYLEGA"},
		{"-t", "nat", "-N", "KUBE-SEP-LEGACYLEGACYLEGA"},
		{"-t", "nat", "-A", "KUBE-SEP-LEGACYLEGACYLEGA", "-p", "tcp", "-j", "DNAT", "--to-destination", "10.244.1.2:9000"},
		{"-t", "nat", "-A", "KUBE-SVC-LEGACYLEGACYLEGA", "-j", "KUBE-SEP-LEGACYLEGACYLEGA"},
		{"-t", "nat", "-A", "KUBE-SERVICES", "-d", "10.96.99.99/32", "-p", "tcp", "--dport", "80", "-j", "KUBE-SVC-LEGACYLEGACYLEGA"},
		{"-t", "nat", "-A", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"},
	} {
		guestutil.Run(t, "iptables-legacy", r...)
	}
	left := kubeProxyLeft(t)
	t.Logf("kube-proxy left %d chains, jumps, sets and links:\n%s", len(left), strings.Join(left, "\n"))
	for _, want := range []string{"iptables-nft-save: :KUBE-SERVICES", "iptables-legacy-save: :KUBE-SVC-", "ipset KUBE-CLUSTER-IP", "link kube-ipvs0"} {
		if !strings.Contains(strings.Join(left, "\n"), want) {
			t.Errorf("the node does not hold %q before the cleanup", want)
		}
	}

	t.Logf("ipvsd cleanup --kube-proxy: %s", guestutil.Run(t, "ipvsd", "cleanup", "--kube-proxy"))
	if left := kubeProxyLeft(t); len(left) > 0 {
		t.Errorf("after ipvsd cleanup --kube-proxy, kube-proxy's leftovers remain:\n%s", strings.Join(left, "\n"))
	}
	table := guestutil.Run(t, "ipvsadm", "-Ln")
	for _, a := range []string{cipAddr, npAddr} {
		if realServers(table, "TCP "+a) >= 0 {
			t.Errorf("kube-proxy's TCP %s is still there:\n%s", a, table)
		}
	}
	if got := foreignState(t); got != foreign {
		t.Errorf("foreign state changed (-before +after):\n%s", cmp.Diff(foreign, got))
	}
}

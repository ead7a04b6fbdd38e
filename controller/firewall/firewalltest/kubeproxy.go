package firewalltest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// KubeProxyIPVSSets are sets shaped like those kube-proxy's IPVS mode
// keeps for a ClusterIP 10.96.0.10:80 and a NodePort 30080 (TCP), with
// the node-port set a port bitmap as kube-proxy creates it.
const KubeProxyIPVSSets = `create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
add KUBE-CLUSTER-IP 10.96.0.10,tcp:80
add KUBE-CLUSTER-IP 10.96.0.11,tcp:9000
create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536
add KUBE-LOOP-BACK 10.244.1.2,tcp:8080,10.244.1.2
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-TCP 30080
create KUBE-NODE-PORT-LOCAL-TCP bitmap:port range 0-65535
create KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535
`

// kubeProxyIPVSRules are shaped like the rules kube-proxy's IPVS mode
// writes, and the kubelet's canary and firewall chains, which are not
// kube-proxy's and stay.
const kubeProxyIPVSRules = `*nat
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ
-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
COMMIT
*filter
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-IPVS-OUT-FILTER - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SOURCE-RANGES-FIREWALL - [0:0]
-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT
-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER
-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
-A KUBE-NODE-PORT -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT
-A KUBE-PROXY-FIREWALL -j KUBE-SOURCE-RANGES-FIREWALL
COMMIT
`

// kubeProxyIPTablesRules are shaped like what kube-proxy's iptables mode
// leaves: per-service and per-endpoint chains, its canary in mangle.
const kubeProxyIPTablesRules = `*nat
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-BBBBBBBBBBBBBBBB - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-SEP-AAAAAAAAAAAAAAAA -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:8080
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-BBBBBBBBBBBBBBBB
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-BBBBBBBBBBBBBBBB -j KUBE-SEP-AAAAAAAAAAAAAAAA
COMMIT
*mangle
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-PROXY-CANARY - [0:0]
COMMIT
`

// KubeProxyIPVS puts kube-proxy's IPVS-mode sets and rules (IPv4) into
// back-end m, beside whatever is there.
func (h *Host) KubeProxyIPVS(t testing.TB, m firewall.Mode) {
	t.Helper()
	if err := h.IPSet().Script(KubeProxyIPVSSets, false); err != nil {
		t.Fatal(err)
	}
	if err := h.IPTables(m, ipvs.IPv4).Restore(t.Context(), kubeProxyIPVSRules); err != nil {
		t.Fatal(err)
	}
}

// KubeProxyIPTables puts what kube-proxy's iptables mode leaves (IPv4)
// into back-end m.
func (h *Host) KubeProxyIPTables(t testing.TB, m firewall.Mode) {
	t.Helper()
	if err := h.IPTables(m, ipvs.IPv4).Restore(t.Context(), kubeProxyIPTablesRules); err != nil {
		t.Fatal(err)
	}
}

// KubeProxyIPVSIn puts kube-proxy's IPVS-mode sets and rules (IPv4) into
// the real namespace's back-end m, as KubeProxyIPVS does in the fake.
func KubeProxyIPVSIn(t testing.TB, m firewall.Mode) {
	t.Helper()
	Sh(t, KubeProxyIPVSSets, "ipset", "restore", "-exist")
	restore, args := Multi(m, ipvs.IPv4, "restore")
	Sh(t, kubeProxyIPVSRules, restore, append(args, "--noflush")...)
	t.Cleanup(func() {
		// Whatever a failed test left: the tables emptied (the kubelet's
		// chains with them), then kube-proxy's sets, referenced no more.
		Sh(t, "*nat\nCOMMIT\n*filter\nCOMMIT\n", restore, args...)
		for _, l := range strings.Split(KubeProxyIPVSSets, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "create" {
				_ = exec.Command("ipset", "destroy", f[1]).Run()
			}
		}
	})
}

// KubeProxyIPTablesIn puts what kube-proxy's iptables mode leaves (IPv4)
// into the real namespace's back-end m.
func KubeProxyIPTablesIn(t testing.TB, m firewall.Mode) {
	t.Helper()
	restore, args := Multi(m, ipvs.IPv4, "restore")
	Sh(t, kubeProxyIPTablesRules, restore, append(args, "--noflush")...)
	t.Cleanup(func() { Sh(t, "*nat\nCOMMIT\n*mangle\nCOMMIT\n", restore, args...) })
}

// WithoutKubeProxy drops from iptables-save or ipset save text the lines
// of kube-proxy's chains, the rules jumping into them and its sets: what a
// removal of kube-proxy's leftovers must leave, byte for byte.
func WithoutKubeProxy(state string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(state, "\n") {
		if !isKubeProxyLine(l) {
			b.WriteString(l)
		}
	}
	return b.String()
}

func isKubeProxyLine(l string) bool {
	f := strings.Fields(l)
	switch {
	case len(f) == 0:
		return false
	case (f[0] == "create" || f[0] == "add") && len(f) > 1:
		return firewall.IsKubeProxySet(f[1])
	case strings.HasPrefix(f[0], ":"):
		return firewall.IsKubeProxyChain(f[0][1:])
	case f[0] == "-A" && len(f) > 1:
		if firewall.IsKubeProxyChain(f[1]) {
			return true
		}
		i := slices.Index(f, "-j")
		return i > 0 && i+1 < len(f) && firewall.IsKubeProxyChain(f[i+1])
	}
	return false
}

package kubeproxy

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// LinkName is the dummy link kube-proxy's IPVS mode binds service
// addresses to.
const LinkName = "kube-ipvs0"

// Bookkeeping is what kube-proxy keeps of the virtual servers it made.
type Bookkeeping struct {
	// Link: kube-ipvs0 exists; LinkAddrs are its addresses (the cluster,
	// external and load-balancer IPs kube-proxy served).
	Link      bool
	LinkAddrs map[netip.Addr]bool
	// Sets are kube-proxy's ipsets, each entry as ipset prints it
	// (firewall.ReadKubeProxySets).
	Sets map[string][]string
}

// addressSets hold an "address,proto:port" entry for every service
// address kube-proxy programs (KUBE-EXTERNAL-IP-LOCAL and
// KUBE-LOAD-BALANCER-LOCAL are subsets of these).
var addressSets = []string{"KUBE-CLUSTER-IP", "KUBE-EXTERNAL-IP", "KUBE-LOAD-BALANCER"}

// nodePortSets hold kube-proxy's node ports: bare ports for TCP and UDP
// (a port bitmap), "address,sctp:port" for SCTP.
var nodePortSets = map[ipvs.Protocol]string{ipvs.TCP: "KUBE-NODE-PORT-TCP", ipvs.UDP: "KUBE-NODE-PORT-UDP", ipvs.SCTP: "KUBE-NODE-PORT-SCTP-HASH"}

// Owns reports whether kube-proxy made virtual server k: its address,
// protocol and port are in one of kube-proxy's service address sets, or
// it is a node port (its port in the protocol's node-port set) on an
// address that is not a service address on kube-ipvs0. kube-proxy's IPVS
// mode makes no firewall-mark services.
func (b Bookkeeping) Owns(k ipvs.Key) bool {
	if k.IsFWMark() {
		return false
	}
	entry := k.Address.String() + "," + strings.ToLower(k.Protocol.String()) + ":" + strconv.Itoa(int(k.Port))
	for _, s := range addressSets {
		if b.has(firewall.KubeProxySetName(s, k.Family), entry) {
			return true
		}
	}
	set, ok := nodePortSets[k.Protocol]
	if !ok || b.LinkAddrs[k.Address] {
		return false
	}
	if k.Protocol == ipvs.SCTP {
		return b.has(firewall.KubeProxySetName(set, k.Family), entry)
	}
	return b.has(firewall.KubeProxySetName(set, k.Family), strconv.Itoa(int(k.Port)))
}

func (b Bookkeeping) has(set, entry string) bool {
	return slices.Contains(b.Sets[set], entry)
}

// Services are the virtual servers of table that kube-proxy made, in key
// order.
func (b Bookkeeping) Services(table []ipvs.Key) []ipvs.Key {
	var out []ipvs.Key
	for _, k := range table {
		if b.Owns(k) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, ipvs.Key.Compare)
	return out
}

// Empty reports whether kube-proxy left nothing of its IPVS mode that
// this bookkeeping shows.
func (b Bookkeeping) Empty() bool { return !b.Link && len(b.Sets) == 0 }

// Package firewall programs the small, constant iptables ruleset and the
// ipsets that let IPVS act as a node load balancer: who is masqueraded,
// which node addresses accept NodePort traffic, which sources may reach a
// load-balancer IP, and what is rejected.
//
// Per-service data lives only in ipsets, so the rules never grow with the
// number of services: a sync that changes one service changes a handful of
// set entries and no rule. The rules live in chains named IPVSD-*, reached by
// one jump from each built-in chain we need; the sets are named ipvsd-*.
// Nothing else in anyone else's chains is ever added, moved or deleted, so
// the package coexists with Calico, Docker and the like.
//
// Desired is a plain value built by the caller (the standalone config or the
// Kubernetes source). DesiredSets and Render are pure functions of it; a
// Firewall applies their output to the kernel and reports what changed.
// Sources hand the daemon's firewall an Update instead: the options and
// the parts (per Service) that changed. The firewall keeps the state by
// owner and counts every element's owners, so an update costs the entries
// it touches (changeRefs) and a shared element outlives one of its owners;
// Repair, at the full resync, applies the whole state against the kernel.
//
// Where packets meet our rules (IPVS hooks, as in net/netfilter/ipvs/ip_vs_core.c):
//
//   - Remote and pod traffic to a VIP passes nat PREROUTING and filter INPUT
//     before IPVS schedules it in LOCAL_IN (priority 98/99), so INPUT sees
//     the VIP and can filter it.
//   - Traffic from the node itself is scheduled by IPVS in LOCAL_OUT at
//     priority NF_IP_PRI_NAT_DST+2, after nat OUTPUT (-100) but before
//     filter OUTPUT (0). Only nat OUTPUT sees the VIP, so decisions for the
//     node's own traffic (masquerade, source ranges) are taken there as packet
//     marks and enforced later. Such traffic usually leaves with the VIP
//     itself as source (the preferred source of the VIP's local route), so
//     source ranges admit the node through Desired.NodeAddresses.
//   - Replies from real servers cross filter FORWARD before IPVS rewrites them
//     (ip_vs_reply4 at FORWARD priority 100), so FORWARD recognises them by a
//     connection mark set on the connection's first packet.
//   - Local firewall marks (externalTrafficPolicy: Local) are set in mangle
//     PREROUTING, the only table where SET --map-mark is allowed, from the
//     skbinfo of the destination's entry in the fwmark sets. IPVS compares
//     the whole skb->mark with its firewall-mark services, and looks them
//     up before address ones (ip_vs_service_find), so the first packet of
//     an outside connection is scheduled on the local-only service; later
//     packets follow the IPVS connection found by their tuple, whatever
//     their mark. The marks rewrite only Desired.LocalMarkMask and the drop
//     bit: any other bit set on the packet before IPVS's LOCAL_IN hook
//     (another agent's mark, left in place) defeats the match, and the
//     traffic falls back to the address virtual server.
//
// IPVS must run with net.ipv4.vs.conntrack=1 for masquerading and the
// connection mark to apply to IPVS connections.
package firewall

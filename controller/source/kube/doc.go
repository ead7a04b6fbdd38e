// Package kube translates Kubernetes objects into ipvsd's desired state: a
// Service, its EndpointSlices and this node become virtual servers with
// real servers and VIPs (desired.VirtualServer, desired.Update) and what the
// firewall must know of them (firewall.VirtualServer). It is a plain
// function of plain values; the informers that fetch the objects and hand
// the result to the dataplane programmer live in kube/informer.
//
// What becomes a virtual server, per service port and address family:
//
//   - each cluster IP, each externalIP and each load-balancer ingress IP
//     (except ingress with ipMode Proxy, whose load balancer proxies the
//     traffic itself and expects to reach the node ports);
//   - the node port on each node address that accepts node ports;
//   - with externalTrafficPolicy Local, one firewall-mark virtual server
//     holding only this node's endpoints (see below).
//
// Headless and ExternalName services have no virtual server.
//
// # externalTrafficPolicy: Local
//
// Kubernetes wants two endpoint sets behind one destination: traffic from
// outside the cluster to a node port, external IP or load-balancer IP may
// only reach this node's endpoints (so the client address survives and no
// second hop is made), while pods and the node itself reaching the same
// address are treated as in-cluster traffic and reach every endpoint. An
// IPVS virtual server has one set of real servers, so each such service
// port gets two virtual servers:
//
//   - the address virtual servers (LB IP:port, external IP:port,
//     node IP:nodePort) hold the in-cluster endpoint set;
//   - a firewall-mark virtual server holds this node's endpoints.
//
// The firewall marks new connections that come from outside the cluster
// (firewall.VirtualServer.LocalFWMark); IPVS looks up firewall-mark services
// before address ones (ip_vs_service_find in ip_vs_ctl.c), so the marked
// first packet is scheduled on the local-only set, and the unmarked traffic
// of pods and the node on the full set. Marks are drawn from a range below
// the firewall's masquerade and drop bits; see Marks.
//
// # Endpoints
//
// An endpoint is used when it is ready; if no endpoint of a set is ready,
// the serving-and-terminating ones are used instead, so a rolling restart
// of the last replicas drains instead of failing. Ports are resolved by
// name in each EndpointSlice separately, as pods behind one service may
// use different target ports. Topology hints (zone from the node's
// topology.kubernetes.io/zone label, node hints for PreferSameNode) filter
// the cluster-wide set when every ready endpoint carries them and at least
// one is for this node or zone, as the EndpointSlice controller only writes
// them when a service asks for it (trafficDistribution or topology mode).
//
// Objects the API server accepted but IPVS cannot program (an address of the
// wrong family in a hand-written slice, a port out of range, an unknown
// protocol, an invalid scheduler annotation) are skipped with a Problem the
// caller turns into an Event; the rest of the service is programmed.
package kube

// Package benchreport is the guest side of make bench-report (issue 15
// item 5): inside the lab VM it starts `ipvsd standalone`, `ipvsd run` or
// the real kube-proxy on a table made before it starts, and prints the
// figures of e2e/benchreport as console lines for the host: cold start to
// fully programmed, ipvsadm -R of the same table, the event-to-kernel
// latency of each single-backend change, peak RSS, idle CPU and IPVS
// netlink writes per change. TestDataPath (item 4) times connection
// setup from a client pod through one ClusterIP and directly to its
// backend under `ipvsd run` and the real kube-proxy in nftables mode side
// by side, each programming a node namespace of its own, their
// connections interleaved. Its tests carry the `lab` build tag and refuse
// to run outside the VM.
package benchreport

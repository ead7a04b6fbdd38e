// Package ha is the kernel lab's test of several directors: in one VM, a
// client, a router running the real BIRD 2 (ECMP over the directors, an L4
// multipath hash), two directors each running `ipvsd standalone` with a
// bgp: section, and two DR real servers, each in its own network
// namespace on one bridged LAN. Connections held across a director failing
// and returning, and across a restart with graceful restart, count what a
// failover costs: nothing, with maglev and sloppy TCP, or with the kernel's
// connection-sync daemon and a non-consistent scheduler.
package ha

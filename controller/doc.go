// Package controller holds no code: its sub-packages are ipvsd's layers,
// and their names say which is which. Data flows one way:
//
//	source/kube (informers + translation)   source/standalone (file + health probes)
//	                  \                            /
//	                   desired state (desired: State, Update, Diff)
//	                                  |
//	                 dataplane.Programmer (the one sync loop, paced by runner)
//	                   |                                |
//	    firewall (iptables + ipsets)       reconciler (IPVS virtual servers + VIPs)
//	                   |                                |
//	                 kernel              kernel, and runstate's files under /run
//
// The layers:
//
//   - source/...: read an input and translate it; they never touch the kernel.
//   - desired: plain desired-state values and the pure diff.
//   - dataplane: programs the firewall, then IPVS, from whatever a source
//     hands over; one set of sync metrics and one health status.
//   - reconciler: the stateful IPVS engine: what changed, what we own,
//     graceful drain, VIP addresses, periodic repair of drift.
//   - runstate: the ownership record and the published desired state
//     under /run/ipvsd, which `ipvsd list` reads.
//   - firewall, runner, hostenv, inspect: the firewall layer, the sync
//     pacing, the host's real kernel handles, and the read-only comparison
//     behind `ipvsd list --owners/--drift`.
//
// Process wiring lives in cmd/ipvsd/app.
package controller

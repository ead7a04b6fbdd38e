// Package dataplane is the one loop that programs the kernel, whichever
// source feeds it. A source (the Kubernetes informers, the standalone
// file with its health checks) only translates its input into desired
// state and hands it over as a Change; the Programmer then, on every
// sync, in this order:
//
//  1. asks the source for what changed, saying whether the sync is a full
//     resync (the standalone source then hands all of its state);
//  2. programs the firewall (controller/firewall), opening it the first
//     time it is needed, and compares it with the kernel on a full resync;
//  3. programs IPVS and the VIPs through the reconciler
//     (controller/reconciler): the whole desired state or an incremental
//     Update, as the source produced it;
//  4. tells the source how it went (the Kubernetes source updates its
//     health-check node ports and programming-latency metric then);
//  5. records the sync in the metrics and the health status that
//     /metrics and /healthz serve.
//
// The firewall goes before IPVS so that a new NAT service is masqueraded
// from its first connection: rules that appear under established
// connections make conntrack see them mid-stream as new, and masquerading
// such a connection half-way resets it.
//
// Syncs are paced by controller/runner: at most one per MinSyncInterval,
// retried with backoff after an error, and at least one per
// FullResyncInterval. A full resync is due FullResyncInterval after the
// last one ended, or 100 times its duration if that is longer (not the
// cold start's, nor while a conflict waits): repairing drift in a
// 100,000-real-server table must not keep an idle daemon busy.
package dataplane

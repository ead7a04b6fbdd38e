// Package reconciler is ipvsd's stateful reconciler: it moves the kernel's
// IPVS table and the VIP addresses on ipvsd's dummy link towards a desired
// state (package desired), with as few writes as it can and without touching
// anything it did not create.
//
// It keeps the whole desired state and a model of what it last applied, so
// a sync after a small change diffs and writes only that change and does
// not read the kernel; every FullResyncInterval it dumps the kernel once
// and repairs drift. Its cost follows the change, not the table.
//
// The files, one concern each:
//
//   - reconciler.go: Config, Deps, the Reconciler and the sync that Sync and
//     Apply share, step by step.
//   - wanted.go: the desired state held between syncs, changed whole by
//     Sync or in part by Apply, and the keys each change leaves for the next
//     sync to look at.
//   - resync.go: when a sync dumps the kernel instead of trusting the model.
//   - plan.go: which virtual servers a sync diffs, and running one service's
//     operations.
//   - apply.go: one operation against the kernel, kept in step with the
//     model.
//   - model.go: the model of our virtual servers as the kernel holds them.
//   - drain.go: the drainer, the books of real servers draining at weight 0;
//     draincheck.go: starting drains and deleting them once idle or timed
//     out.
//   - addresses.go: binding and unbinding VIPs.
//   - ownership.go: the record of what ipvsd created (runstate.Record, saved
//     under /run), so ownership survives a daemon restart, and the check
//     that a recorded service is still as ipvsd wrote it before it is
//     deleted.
//   - publish.go: the copy of the desired state that inspection tools read.
//   - result.go: what one sync did, returned and logged.
//   - interfaces.go: the narrow AddressBinder and ConntrackCleaner.
//
// Kernel access goes through ipvs.Kernel, addresses and conntrack through
// AddressBinder and ConntrackCleaner, so the package is tested without a
// kernel against ipvstest.Fake and the fakes in reconcilertest.
package reconciler

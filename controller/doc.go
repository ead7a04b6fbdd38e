// Package controller is ipvsd's reconciler core: it moves the kernel's IPVS
// table and the VIP addresses on ipvsd's dummy link from what they are to
// a Desired state, with as few writes as it can and without touching
// anything it did not create.
//
// The pieces, one concern per file:
//
//   - desired.go: the plain desired-state structs and their validation.
//   - diff.go, ops.go: Diff, a pure function from one desired and one actual
//     virtual server to the ordered operations that reconcile them.
//   - record.go: the ownership record, a small JSON file under /run that
//     lists the virtual servers and addresses ipvsd created, so ownership
//     survives a daemon restart (and dies with the kernel's table at reboot).
//   - state.go: the desired state the reconciler holds, changed whole by
//     Sync or in part by Apply (an Update), and the set of keys each change
//     leaves for the next sync to look at.
//   - reconciler.go, services.go, apply.go: the sync shared by Sync and
//     Apply, which diffs only those keys (and work that failed) against
//     what it last applied, and periodically dumps the kernel once to
//     repair drift; its cost follows the change, not the table.
//   - drain.go: graceful removal of real servers (weight 0, deleted when
//     idle or after a timeout).
//   - addresses.go: binding and unbinding VIPs.
//
// Kernel access goes through ipvs.Kernel; addresses and conntrack through
// the narrow AddressBinder and ConntrackCleaner interfaces declared here, so
// the package is tested without a kernel.
package controller

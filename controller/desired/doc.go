// Package desired is the plain data of what ipvsd wants in the kernel and
// the pure diff from it to what the kernel has. Sources (Kubernetes, the
// standalone file) build a State or an Update and know nothing of the
// kernel; the reconciler consumes them and knows nothing of the sources.
//
//   - desired.go: State, VirtualServer, their normalization and validation.
//   - update.go: Update, a change to part of the desired state.
//   - diff.go, ops.go: Diff, a pure function from one desired and one
//     actual virtual server to the ordered operations that reconcile them.
package desired

// Package ipvstest holds test doubles for package ipvs: a stateful fake
// Kernel that fails where the kernel does, and a conformance suite that
// runs the same table against the fake and against a real kernel.
package ipvstest

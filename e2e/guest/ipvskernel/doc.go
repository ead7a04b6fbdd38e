//go:build lab

// Package ipvskernel tests ipvs.Handle against the lab's real kernel: the
// conformance table shared with the fake, the dump's 64-bit counters, and
// the renderer against the guest's own ipvsadm.
package ipvskernel

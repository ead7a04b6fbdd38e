//go:build lab

// Package foundation holds the first tests that run inside the kernel lab:
// they use github.com/moby/ipvs directly (no ipvsd code) to prove that the
// lab's kernel balances real traffic, and that the harness's helpers work.
package foundation

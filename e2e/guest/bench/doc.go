//go:build lab

// Package bench measures the reconciler against the lab VM's real IPVS and
// prints each figure as `name: value unit` with its baseline and ratio, all
// measured in the same VM run (the emulated CPU is slow, so only ratios
// within one run mean anything). It asserts correctness (a no-op sync
// writes nothing) but never timings: `make bench` reports, it does not
// judge.
package bench

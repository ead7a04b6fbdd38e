// Package probe checks backends: one schedule per backend, each running
// concurrently with jitter, with rise/fall hysteresis so that one lost
// packet neither takes a backend out nor a single lucky answer brings a
// broken one back. The clock, the prober and the random source are
// injected, so the schedules are tested without a network or real time.
package probe

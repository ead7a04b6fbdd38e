//go:build lab

// Package signals tests, inside the lab VM, that the real ipvsd (on PATH)
// stops when asked while it is blocked in start-up on a real kernel: `ipvsd
// run` waiting for an API server that accepts connections and never
// answers.
package signals

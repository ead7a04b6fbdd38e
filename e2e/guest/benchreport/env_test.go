//go:build lab

package benchreport

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// run is what the host asked for, from the environment of the VM.
type run struct {
	services int           // BENCH_SERVICES, required
	changes  int           // BENCH_CHANGES: single-backend changes, default 200
	idle     time.Duration // BENCH_IDLE_SECONDS: the idle window, default 60
	// coldTimeout bounds a cold start: BENCH_COLD_TIMEOUT_SECONDS,
	// default an hour (50,000 services under emulation take long).
	coldTimeout time.Duration
}

func runFromEnv(t *testing.T) run {
	t.Helper()
	return run{
		services:    envInt(t, "BENCH_SERVICES", 0),
		changes:     envInt(t, "BENCH_CHANGES", 200),
		idle:        time.Duration(envInt(t, "BENCH_IDLE_SECONDS", 60)) * time.Second,
		coldTimeout: time.Duration(envInt(t, "BENCH_COLD_TIMEOUT_SECONDS", 3600)) * time.Second,
	}
}

// envInt is a positive number from the environment; def 0 makes it
// required.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" && def > 0 {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number (the host's bench-report command sets it)", name, v)
	}
	return n
}

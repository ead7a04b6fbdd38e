//go:build lab

package faults

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestFlushRepairedAtResync flushes the whole IPVS table by hand
// (`ipvsadm -C`) under a running `ipvsd standalone`; another program then
// adds virtual servers of its own, one of them on a VIP of ours. The next
// full resync must bring back every service and real server of ours and
// leave the other program's as it added them. Standalone mode has no
// flag for the resync period, so this waits for the default one (60 s):
// the runner's longest pause between syncs and the reconciler's interval
// between dumps are both 60 s, so the repair comes within two periods.
func TestFlushRepairedAtResync(t *testing.T) {
	setup(t)
	cfg := desiredConfig{services: 40, backends: 3}
	want := cfg.want()
	d := startDaemon(t, writeConfig(t, cfg))
	took := d.waitHealthy(t, 3*time.Minute)
	if lost, wrong := checkComplete(t, "before the flush", want, nil, nil); lost+wrong > 0 {
		t.Fatalf("the first sync left %d lost and %d wrong entries", lost, wrong)
	}
	t.Logf("first sync: %s", seconds(took))

	run(t, "ipvsadm", "-C")
	flushed := time.Now()
	foreignIDs, foreignLines := addForeign(t)
	if tb := readTable(t, foreignIDs); len(tb.ours) != 0 {
		t.Fatalf("the flush left %d lines of ours", len(tb.ours))
	}

	repaired := waitRepaired(t, d, want, foreignIDs, 3*time.Minute)
	lost, wrong := checkComplete(t, "after the repair", want, foreignIDs, foreignLines)
	if !d.running() {
		t.Fatalf("ipvsd exited: %v\n%s", d.err, d.log.Tail(20))
	}
	d.stop(t)
	t.Logf("repaired %s after the flush", seconds(repaired.Sub(flushed)))
	fmt.Printf("faults: ipvsadm -C under a running daemon (%d x %d): repaired %s after the flush; lost entries %d, wrong entries %d, foreign services added after the flush untouched: %v\n",
		cfg.services, cfg.backends, seconds(repaired.Sub(flushed)), lost, wrong, !t.Failed())
}

// waitRepaired polls the real ipvsadm until our part of the table is the
// desired one again and returns when it was.
func waitRepaired(t *testing.T, d *daemon, want wanted, foreignIDs []string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tb := readTable(t, foreignIDs)
		if slices.Equal(tb.ours, want.lines) {
			return time.Now()
		}
		if !d.running() {
			t.Fatalf("ipvsd exited before the repair: %v\n%s", d.err, d.log.Tail(20))
		}
		if time.Now().After(deadline) {
			missing, extra := diff(want.lines, tb.ours)
			t.Fatalf("not repaired %s after the flush: %d missing, %d extra\n%s\n%s", timeout, len(missing), len(extra), sample(missing, 10), d.log.Tail(20))
		}
		time.Sleep(time.Second)
	}
}

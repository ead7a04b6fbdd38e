package gcpace

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 << 20, 100},             // nothing measured yet: Go's default
		{8 << 20, 64 << 20, 100},       // 56 MiB over 8 MiB would be 700 %: capped
		{32 << 20, 64 << 20, 100},      // up to the floor: 100 %
		{48 << 20, 64 << 20, 33},       // 16 MiB over 48 MiB
		{60 << 20, 64 << 20, 25},       // the floor is below a quarter more
		{64 << 20, 64 << 20, 25},       // at the floor: a quarter
		{82 << 20, 64 << 20, 25},       // above it: a quarter, not the floor over it
		{400 << 20, 0, 25},             // no floor
		{^uint64(0) >> 1, 1 << 40, 25}, // no overflow
	} {
		if got := Percent(tc.live, 0.25, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

func liveNow() uint64 {
	s := []metrics.Sample{{Name: liveHeap}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitGOGC waits for the cleanup goroutine to set GOGC to want.
func waitGOGC(t *testing.T, want func() int, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != want() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, w := gogc(), want(); got != w {
		t.Fatalf("%s: GOGC is %d, want %d", why, got, w)
	}
}

func keepGOGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
}

// TestKeepLeavesTheEnvironment: GOGC or GOMEMLIMIT in the environment is
// left alone; otherwise Keep sets a percentage.
func TestKeepLeavesTheEnvironment(t *testing.T) {
	keepGOGC(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Config{Headroom: 0.07, Floor: 1}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetGCPercent(100)
		Keep(ctx, c, func(k string) string {
			if k == env {
				return "50"
			}
			return ""
		}, zap.NewNop())
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("with %s set GOGC became %d, want it left at 100", env, got)
		}
	}
	runtime.GC() // so that the live heap is measured
	Keep(ctx, c, func(string) string { return "" }, zap.NewNop())
	if got := gogc(); got != 7 {
		t.Errorf("GOGC is %d, want 7 (the headroom)", got)
	}
}

var held []byte

// TestFollowsEachGC: the percentage follows the live heap after each
// collection, with no timer: 128 MiB more live heap under a 160 MiB floor
// takes GOGC from 100 down to the floor's share.
func TestFollowsEachGC(t *testing.T) {
	keepGOGC(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Config{Headroom: 0.05, Floor: 160 << 20}
	runtime.GC()
	Keep(ctx, c, func(string) string { return "" }, zap.NewNop())
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC is %d with a small live heap, want 100 (the floor's room, capped)", got)
	}
	held = make([]byte, 128<<20)
	defer func() { held = nil }()
	runtime.GC()
	waitGOGC(t, func() int { return Percent(liveNow(), c.Headroom, c.Floor) }, "after a collection found 128 MiB more")
	if got := gogc(); got >= 100 || got <= 5 {
		t.Errorf("GOGC is %d, want it between the headroom and 100", got)
	}
	cancel()
	runtime.GC() // the cleanup sees ctx done and stops
	held = nil
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got, want := gogc(), Percent(liveNow(), c.Headroom, c.Floor); got == want {
		t.Errorf("GOGC is %d after ctx was done and the heap shrank, want it no longer paced", got)
	}
}

// TestSettle: until Settle the floor is Floor, then SettledFloor, at once;
// an environment that paces the collector is still left alone, and Settle
// on it (or a nil Pacer) does nothing.
func TestSettle(t *testing.T) {
	keepGOGC(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime.GC()
	// Floor far above any live heap: GOGC=100; settled, one byte: Headroom.
	c := Config{Headroom: 0.05, Floor: 1 << 40, SettledFloor: 1}
	p := Keep(ctx, c, func(string) string { return "" }, zap.NewNop())
	if got := gogc(); got != 100 {
		t.Fatalf("before Settle GOGC is %d, want 100 (the floor's room, capped)", got)
	}
	p.Settle()
	p.Settle() // twice is fine
	if got := gogc(); got != 5 {
		t.Fatalf("after Settle GOGC is %d, want 5 (Headroom over the live heap)", got)
	}

	debug.SetGCPercent(100)
	q := Keep(ctx, c, func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}, zap.NewNop())
	q.Settle()
	(*Pacer)(nil).Settle()
	if got := gogc(); got != 100 {
		t.Errorf("with GOGC set and settled, GOGC became %d, want it left at 100", got)
	}
}

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
	c := Config{Headroom: 0.25, Min: 16 << 20}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},              // nothing measured yet: Go's default
		{8 << 20, 100},        // 16 MiB over 8 MiB would be 200 %: capped
		{32 << 20, 50},        // 16 MiB over 32 MiB
		{64 << 20, 25},        // a quarter is 16 MiB
		{400 << 20, 25},       // a quarter
		{^uint64(0) >> 1, 25}, // no overflow
	} {
		if got := c.Percent(tc.live); got != tc.want {
			t.Errorf("Percent(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// TestKeepLeavesTheEnvironment: GOGC or GOMEMLIMIT in the environment is
// left alone; otherwise Keep sets a percentage.
func TestKeepLeavesTheEnvironment(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Config{Headroom: 0.07, Min: 1, Every: 1 << 62}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetGCPercent(100)
		Keep(ctx, c, func(k string) string {
			if k == env {
				return "50"
			}
			return ""
		}, zap.NewNop())
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("with %s set GOGC became %d, want it left at 100", env, got)
		}
	}
	runtime.GC() // so that the live heap is measured
	Keep(ctx, c, func(string) string { return "" }, zap.NewNop())
	if got := debug.SetGCPercent(100); got == 100 {
		t.Errorf("GOGC left at %d, want it paced (between 7 and 100)", got)
	}
}

// TestSettle: until Settle the room is at least Min, then at least
// SettledMin; an environment that paces the collector is still left
// alone, and Settle on it (or a nil Pacer) does nothing.
func TestSettle(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	gogc := func() int64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int64(s[0].Value.Uint64())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime.GC()
	// Min far above any live heap: GOGC=100; settled, one byte: Headroom.
	c := Config{Headroom: 0.05, Min: 1 << 40, SettledMin: 1, Every: 1 << 62}
	p := Keep(ctx, c, func(string) string { return "" }, zap.NewNop())
	if got := gogc(); got != 100 {
		t.Fatalf("before Settle GOGC is %d, want 100 (Min's room, capped)", got)
	}
	p.Settle()
	p.Settle() // twice is fine
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
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
	time.Sleep(10 * time.Millisecond)
	if got := gogc(); got != 100 {
		t.Errorf("with GOGC set and settled, GOGC became %d, want it left at 100", got)
	}
}

package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"testing"

	"go.uber.org/zap"
)

func TestLimit(t *testing.T) {
	c := Config{Floor: 128 << 20, Ratio: 1.25}
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, 128 << 20},
		{100 << 20, 128 << 20}, // 125 MiB: under the floor
		{200 << 20, 250 << 20},
		{math.MaxUint64, math.MaxInt64},
	} {
		if got := c.Limit(tc.live); got != tc.want {
			t.Errorf("Limit(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// TestKeepLeavesGOMEMLIMIT: a limit the environment sets is left alone;
// otherwise Keep sets one at least its floor.
func TestKeepLeavesGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Config{Floor: 1 << 40, Ratio: 1.25, Every: 1 << 62}
	Keep(ctx, c, func(string) string { return "300MiB" }, zap.NewNop())
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set the limit became %d, want it left at %d", got, before)
	}
	Keep(ctx, c, func(string) string { return "" }, zap.NewNop())
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("limit %d, want the floor %d", got, int64(1<<40))
	}
}

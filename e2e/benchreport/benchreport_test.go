package benchreport

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/internal/golden"
)

// fixed are figures as two VM runs would print them, kernel messages and
// test output between them.
func fixed() string {
	var b strings.Builder
	b.WriteString("=== RUN   TestStandalone\n[  12.3] random: crng init done\n")
	for _, r := range []struct {
		mode     string
		n        int
		cold, rs float64
	}{{Standalone, 100, 1.5, 0.5}, {Standalone, 1000, 12, 4}, {Kube, 100, 3, 0.6}, {Kube, 1000, 20, 4.1}, {KubeProxy, 1000, 40, 0}} {
		b.WriteString(FigureLine(r.mode, r.n, KeyCold, r.cold) + "\n")
		if r.rs > 0 {
			b.WriteString(FigureLine(r.mode, r.n, KeyRestore, r.rs) + "\n")
		}
		b.WriteString(FigureLine(r.mode, r.n, KeyRealServers, float64(r.n*Backends)) + "\n")
		for k := 1; k <= 10; k++ {
			b.WriteString(FigureLine(r.mode, r.n, KeyChange, float64(k)*r.cold/100) + "\n")
		}
		b.WriteString(FigureLine(r.mode, r.n, KeyPeakRSS, 51200*float64(r.n)/100) + "\n")
		b.WriteString(FigureLine(r.mode, r.n, KeyIdleTicks, 30) + "\n")
		b.WriteString(FigureLine(r.mode, r.n, KeyIdleSeconds, 60) + "\n")
		if r.mode != KubeProxy {
			b.WriteString(FigureLine(r.mode, r.n, KeyWritesChanges, 10) + "\n")
		}
	}
	return b.String()
}

func parseFixed(t *testing.T) []Result {
	t.Helper()
	res, err := Parse(strings.NewReader(fixed()))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTableGolden(t *testing.T) {
	golden.Check(t, filepath.Join("testdata", "table.txt"), Table(parseFixed(t)))
}

func TestParse(t *testing.T) {
	res := parseFixed(t)
	var order []string
	for _, r := range res {
		order = append(order, r.Mode)
	}
	if diff := cmp.Diff([]string{Standalone, Standalone, Kube, Kube, KubeProxy}, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	kp := res[4]
	if kp.Services != 1000 || kp.Cold != 40 || len(kp.Changes) != 10 || !math.IsNaN(kp.WritesPerChange()) || !math.IsNaN(kp.RestoreRatio()) {
		t.Errorf("kube-proxy row %+v: want 1000 services, cold 40, 10 changes, writes and floor unknown", kp)
	}
	if got := res[0].IdleCPUPercent(); got != 0.5 {
		t.Errorf("idle CPU %v%%, want 0.5 (30 ticks of 10 ms in 60 s)", got)
	}
}

func TestParseNamesTheBadLine(t *testing.T) {
	_, err := Parse(strings.NewReader("ok\nbench: kube 10 cold_s x\nbench: kube 10 nonsense 1\nbench: kube\n"))
	for _, want := range []string{`line 2 "bench: kube 10 cold_s x": value`, `line 3 "bench: kube 10 nonsense 1": unknown figure "nonsense"`, "line 4"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want it to name %s", err, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct {
		p    float64
		want float64
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {1, 1}} {
		if got := Percentile(xs, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("p50 of nothing is not NaN")
	}
	if xs[0] != 5 {
		t.Error("Percentile sorted its argument")
	}
}

// TestPlotWritesAPNG checks the file is a PNG of the size asked for, not
// its pixels.
func TestPlotWritesAPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.png")
	if err := Plot(parseFixed(t), path); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path)
}

// checkPNG: path is a PNG of the report's size with something drawn.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	// 10 x 6 inches at gonum/plot's default 96 dpi.
	if cfg.Width != 960 || cfg.Height != 576 || len(b) < 10_000 {
		t.Errorf("PNG %dx%d of %d bytes, want 960x576 and more than an empty canvas", cfg.Width, cfg.Height, len(b))
	}
}

func TestPlotRefusesNothing(t *testing.T) {
	if err := Plot([]Result{{Mode: Kube, Services: 10}}, filepath.Join(t.TempDir(), "x.png")); err == nil {
		t.Error("a plot with no figure was written")
	}
}

// TestStandaloneConfigIsValid parses the generated file with ipvsd's own
// config package.
func TestStandaloneConfigIsValid(t *testing.T) {
	var b bytes.Buffer
	if err := WriteStandaloneConfig(&b, 25, map[int]int{3: ChangedWeight(3, 25)}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Services) != 25 {
		t.Fatalf("%d services, want 25", len(cfg.Services))
	}
	for i, s := range cfg.Services {
		if len(s.Backends) != Backends || s.Key().Address != StandaloneVIP(i).Addr() {
			t.Errorf("service %d: %d backends on %s, want %d on %s", i, len(s.Backends), s.Key().Address, Backends, StandaloneVIP(i))
		}
		want := 1
		if i == 3 {
			want = 2
		}
		if d := s.Backends[0].Destination(); d.Weight != want || d.Address != EndpointIP(i, 0) || d.Port != StandaloneVIP(i).Port() {
			t.Errorf("service %d backend 0: %+v, want weight %d at %s:%d", i, d, want, EndpointIP(i, 0), StandaloneVIP(i).Port())
		}
	}
}

// TestChangesAlwaysChangeSomething: each change differs from the state
// the previous change of the same service left, so every one of them
// must reach the kernel.
func TestChangesAlwaysChangeSomething(t *testing.T) {
	for _, n := range []int{1, 7, 100} {
		for k := n; k < 1000; k++ {
			if ChangedWeight(k, n) == ChangedWeight(k-n, n) || ChangedWeight(k, n) == 1 {
				t.Fatalf("n=%d change %d: weight %d, as before", n, k, ChangedWeight(k, n))
			}
			if ReplacementIP(k, n) == ReplacementIP(k-n, n) || ReplacementIP(k, n) == EndpointIP(k%n, 0) {
				t.Fatalf("n=%d change %d: address %s, as before", n, k, ReplacementIP(k, n))
			}
		}
	}
}

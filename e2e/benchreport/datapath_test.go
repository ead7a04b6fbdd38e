package benchreport

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/internal/golden"
)

// fixedDataPath are the data-path figures of two VM runs as the guest
// prints them: ipvsd, kube-proxy nftables and ipvsd paused at 100 and
// 10,000 Services.
func fixedDataPath() string {
	var b strings.Builder
	for _, r := range []struct {
		mode    string
		n       int
		ready   float64
		cluster float64 // ms of the slowest ClusterIP connection
		direct  float64 // and of the slowest direct one
	}{{Kube, 100, 4.5, 2, 1.5}, {KubeProxyNFT, 100, 6, 2.5, 2}, {Kube, 10000, 300, 2.1, 1.5}, {KubeProxyNFT, 10000, 420, 3, 2},
		// ipvsd stopped, the kernel still programmed: no ready time.
		{KubePaused, 100, 0, 1.9, 1.5}, {KubePaused, 10000, 0, 1.95, 1.4}} {
		var cl, di []float64
		for k := 1; k <= 100; k++ {
			cl = append(cl, r.cluster*float64(k)/100/1000)
			di = append(di, r.direct*float64(k)/100/1000)
		}
		// The 10,000 run is of the older kind: the proxies one after the other.
		d := DataPath{Ready: r.ready, ProxyCPU: r.ready / 100, SideBySide: r.n == 100 && r.mode != KubePaused, Cluster: Summarize(cl, 0.5), Direct: Summarize(di, 0.4)}
		for _, l := range DataPathLines(r.mode, r.n, d) {
			b.WriteString("[ 1.0] " + l + "\n")
		}
	}
	return b.String()
}

func TestDataPathTableGolden(t *testing.T) {
	res, err := Parse(strings.NewReader(fixed() + fixedDataPath()))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "datapath.txt"), DataPathTable(res))
	// The scale table is the same with the data-path runs beside it.
	if diff := cmp.Diff(Table(parseFixed(t)), Table(res)); diff != "" {
		t.Errorf("the data-path figures changed the scale table (-without +with):\n%s", diff)
	}
}

// TestDataPathRoundTrip: what the guest prints parses back to what it
// measured.
func TestDataPathRoundTrip(t *testing.T) {
	want := DataPath{Ready: 12.5, ProxyCPU: 3.5, SideBySide: true, Cluster: Path{Conns: 2000, P50: 0.0011, P99: 0.0042, Rate: 450.5}, Direct: Path{Conns: 2000, P50: 0.0009, P99: 0.003, Rate: 510}}
	res, err := Parse(strings.NewReader(strings.Join(DataPathLines(KubeProxyNFT, 10000, want), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Mode != KubeProxyNFT || res[0].Services != 10000 {
		t.Fatalf("parsed %+v, want one kube-proxy-nft result at 10000", res)
	}
	if diff := cmp.Diff(want, res[0].DataPath); diff != "" {
		t.Errorf("(-printed +parsed):\n%s", diff)
	}
	if got := Table(res); got != "" {
		t.Errorf("a data-path run alone has a scale table:\n%s", got)
	}
}

func TestSummarize(t *testing.T) {
	xs := []float64{0.005, 0.001, 0.004, 0.002, 0.003}
	p := Summarize(xs, 0.02)
	if p.Conns != 5 || p.P50 != 0.003 || p.P99 != 0.005 || p.Rate != 250 {
		t.Errorf("Summarize = %+v, want 5 connections, p50 3 ms, p99 5 ms, 250 a second", p)
	}
	if p := Summarize(nil, 0); p.Conns != 0 || !math.IsNaN(p.P99) || !math.IsNaN(p.Rate) {
		t.Errorf("Summarize of nothing = %+v, want no figures", p)
	}
}

func TestParseNamesABadDataPathKey(t *testing.T) {
	for _, key := range []string{"dp_cluster_p95_s", "dp_sideways_p50_s", "dp_cluster"} {
		_, err := Parse(strings.NewReader("bench: kube 10 " + key + " 1\n"))
		if err == nil || !strings.Contains(err.Error(), `unknown figure "`+key+`"`) {
			t.Errorf("%s: error %v, want it named", key, err)
		}
	}
}

func TestPlotDataPathWritesAPNG(t *testing.T) {
	res, err := Parse(strings.NewReader(fixedDataPath()))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "datapath.png")
	if err := PlotDataPath(res, path); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path)
	if err := PlotDataPath(parseFixed(t), path); err == nil {
		t.Error("a data-path plot without data-path figures was written")
	}
}

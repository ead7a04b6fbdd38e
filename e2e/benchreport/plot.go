package benchreport

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one line of the plot: a figure of one mode against the number
// of services.
type series struct {
	name  string
	mode  string
	value func(Result) float64
	dash  []vg.Length
	// floor lines are thin: references, not results.
	floor bool
}

var (
	modeColor = map[string]color.Color{
		Standalone: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		Kube:       color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		KubeProxy:  color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
		// kube-proxy nftables is the data path's reference.
		KubeProxyNFT: color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	}
)

func plotSeries() []series {
	var out []series
	for _, mode := range []string{Standalone, Kube, KubeProxy} {
		out = append(out,
			series{mode + " cold start", mode, func(r Result) float64 { return r.Cold }, nil, false},
			series{mode + " change p50", mode, func(r Result) float64 { return Percentile(r.Changes, 50) }, []vg.Length{vg.Points(6), vg.Points(3)}, false},
			series{mode + " change p99", mode, func(r Result) float64 { return Percentile(r.Changes, 99) }, []vg.Length{vg.Points(2), vg.Points(2)}, false},
		)
		if mode != KubeProxy {
			out = append(out, series{mode + " ipvsadm -R floor", mode, func(r Result) float64 { return r.Restore }, []vg.Length{vg.Points(10), vg.Points(3), vg.Points(2), vg.Points(3)}, true})
		}
	}
	return out
}

// points are the positive values of s (a log axis has no room for zero
// or a figure not measured), by number of services.
func (s series) points(results []Result) plotter.XYs {
	var xy plotter.XYs
	for _, r := range results {
		if v := s.value(r); r.Mode == s.mode && v > 0 && !math.IsNaN(v) {
			xy = append(xy, plotter.XY{X: float64(r.Services), Y: v})
		}
	}
	slices.SortFunc(xy, func(a, b plotter.XY) int { return int(math.Copysign(1, a.X-b.X)) })
	return xy
}

// Plot draws the sync time and the p50/p99 event-to-kernel latency of
// each mode against the number of services on log-log axes, with the
// ipvsadm -R floor of each mode's table and kube-proxy where measured,
// and writes it as a PNG to path.
func Plot(results []Result, path string) error {
	p := newPlot("ipvsd scale report (kernel lab, emulated CPU: compare within a run)", "seconds")
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	lo, hi, err := addSeries(p, results, plotSeries(), path)
	if err != nil {
		return err
	}
	// Room around the points on the log axes, so the extreme ones (and a
	// run of one size) are not on the frame, and above them for the
	// legend, which sits top left where the lines start low.
	p.Y.Min, p.Y.Max = lo.Y/2, hi.Y*20
	return save(p, lo, hi, path)
}

// PlotDataPath draws the connection-setup p50 and p99 through the
// ClusterIP, and the direct path's p99 as the reference, of ipvsd and
// kube-proxy nftables against the number of services (log axis; the
// milliseconds on a linear one from zero, so a ratio reads as a height)
// and writes it as a PNG to path.
func PlotDataPath(results []Result, path string) error {
	p := newPlot("ipvsd data path: TCP connect to first byte (kernel lab, emulated CPU: compare within a VM)", "milliseconds")
	lo, hi, err := addSeries(p, results, dataPathSeries(), path)
	if err != nil {
		return err
	}
	p.Y.Min, p.Y.Max = 0, hi.Y*1.6
	return save(p, lo, hi, path)
}

func dataPathSeries() []series {
	var out []series
	for _, mode := range []string{Kube, KubeProxyNFT} {
		name := proxyName(mode)
		out = append(out,
			series{name + " ClusterIP p99", mode, func(r Result) float64 { return 1000 * r.DataPath.Cluster.P99 }, nil, false},
			series{name + " ClusterIP p50", mode, func(r Result) float64 { return 1000 * r.DataPath.Cluster.P50 }, []vg.Length{vg.Points(6), vg.Points(3)}, false},
			series{name + " direct p99", mode, func(r Result) float64 { return 1000 * r.DataPath.Direct.P99 }, []vg.Length{vg.Points(2), vg.Points(2)}, true},
		)
	}
	return out
}

// newPlot is a plot of figures against the number of services on a log
// axis, with a grid and the legend top left.
func newPlot(title, unit string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "Services (x10 endpoints)"
	p.Y.Label.Text = unit
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p
}

// addSeries adds each series that has points and returns the corners of
// the points' range; it fails when no series had any.
func addSeries(p *plot.Plot, results []Result, ss []series, path string) (lo, hi plotter.XY, err error) {
	drawn := 0
	lo, hi = plotter.XY{X: math.Inf(1), Y: math.Inf(1)}, plotter.XY{X: math.Inf(-1), Y: math.Inf(-1)}
	for _, s := range ss {
		xy := s.points(results)
		if len(xy) == 0 {
			continue
		}
		for _, pt := range xy {
			lo.X, lo.Y = min(lo.X, pt.X), min(lo.Y, pt.Y)
			hi.X, hi.Y = max(hi.X, pt.X), max(hi.Y, pt.Y)
		}
		line, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return lo, hi, fmt.Errorf("plotting %s: %w", s.name, err)
		}
		c, width := modeColor[s.mode], vg.Points(1.5)
		if s.floor {
			width = vg.Points(1)
		}
		line.Color, line.Dashes, line.Width = c, s.dash, width
		pts.Color, pts.Shape = c, draw.CircleGlyph{}
		p.Add(line, pts)
		p.Legend.Add(s.name, line, pts)
		drawn++
	}
	if drawn == 0 {
		return lo, hi, fmt.Errorf("plotting %s: no figure to plot", path)
	}
	return lo, hi, nil
}

// save writes p as a 10 x 6 inch PNG, the x axis with room around the
// points so the extreme ones (and a run of one size) are not on the frame.
func save(p *plot.Plot, lo, hi plotter.XY, path string) error {
	p.X.Min, p.X.Max = lo.X/1.5, hi.X*1.5
	if err := p.Save(10*vg.Inch, 6*vg.Inch, path); err != nil {
		return fmt.Errorf("writing the plot %s: %w", path, err)
	}
	return nil
}

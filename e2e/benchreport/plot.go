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
	p := plot.New()
	p.Title.Text = "ipvsd scale report (kernel lab, emulated CPU: compare within a run)"
	p.X.Label.Text = "Services (x10 endpoints)"
	p.Y.Label.Text = "seconds"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	drawn := 0
	lo, hi := plotter.XY{X: math.Inf(1), Y: math.Inf(1)}, plotter.XY{X: math.Inf(-1), Y: math.Inf(-1)}
	for _, s := range plotSeries() {
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
			return fmt.Errorf("plotting %s: %w", s.name, err)
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
		return fmt.Errorf("plotting %s: no figure to plot", path)
	}
	// Room around the points on the log axes, so the extreme ones (and a
	// run of one size) are not on the frame, and above them for the
	// legend, which sits top left where the lines start low.
	p.X.Min, p.X.Max = lo.X/1.5, hi.X*1.5
	p.Y.Min, p.Y.Max = lo.Y/2, hi.Y*20
	if err := p.Save(10*vg.Inch, 6*vg.Inch, path); err != nil {
		return fmt.Errorf("writing the plot %s: %w", path, err)
	}
	return nil
}

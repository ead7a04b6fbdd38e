package benchreport

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
)

// Table renders results as an aligned text table, one row per mode and
// size; "-" marks a figure not measured. Results with only data-path
// figures are DataPathTable's; "" when there is no other.
func Table(results []Result) string {
	results = slices.DeleteFunc(slices.Clone(results), func(r Result) bool { return !r.scaleMeasured() })
	if len(results) == 0 {
		return ""
	}
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "mode\tservices\treal servers\tcold s\tipvsadm -R s\tcold/-R\tchanges\tp50 s\tp99 s\tpeak RSS MiB\tidle CPU %\twrites/change\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Mode, r.Services, r.RealServers, num(opt(r.Cold), 2), num(opt(r.Restore), 2), num(r.RestoreRatio(), 2),
			len(r.Changes), num(Percentile(r.Changes, 50), 3), num(Percentile(r.Changes, 99), 3),
			num(opt(r.PeakRSSKiB)/1024, 1), num(r.IdleCPUPercent(), 2), num(r.WritesPerChange(), 1))
	}
	w.Flush()
	return b.String()
}

// opt is v, or NaN where 0 means the figure was not printed.
func opt(v float64) float64 {
	if v <= 0 {
		return math.NaN()
	}
	return v
}

// num formats v with prec decimals; NaN (not measured) is "-".
func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

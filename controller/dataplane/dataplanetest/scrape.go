package dataplanetest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape serves /metrics from h and flattens the series whose
// name starts with prefix to `name{label="value",...}` -> value, labels in
// name order, as the text exposition writes them; a histogram becomes its
// name_count.
func Scrape(t testing.TB, h http.Handler, prefix string) map[string]float64 {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rr.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", rr.Code, rr.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rr.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, mt := range f.GetMetric() {
			var ls []string
			for _, l := range mt.GetLabel() {
				ls = append(ls, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			slices.Sort(ls)
			k := name
			if len(ls) > 0 {
				k += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case mt.Counter != nil:
				out[k] = mt.GetCounter().GetValue()
			case mt.Gauge != nil:
				out[k] = mt.GetGauge().GetValue()
			case mt.Histogram != nil:
				// The count: how many were observed.
				out[strings.Replace(k, name, name+"_count", 1)] = float64(mt.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("%s: neither counter, gauge nor histogram", k)
			}
		}
	}
	return out
}

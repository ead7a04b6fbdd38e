//go:build lab

package benchreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A traced run (BENCH_TRACE=1, benchreport -trace) explains the tail of
// the event-to-kernel latency: ipvsd logs every sync at debug level with
// its length, the Go runtime each garbage collection (GODEBUG=gctrace=1),
// and after the changes the console gets, for each slow change, the syncs
// and collections that overlapped it. Its figures are not the report's:
// the logging costs CPU of its own.

// tracing says whether this run is traced.
func tracing() bool { return os.Getenv("BENCH_TRACE") == "1" }

// traceArgs are ipvsd's extra flags in a traced run.
func traceArgs() []string {
	if !tracing() {
		return nil
	}
	return []string{"--log-level=debug"}
}

// traceEnv is ipvsd's environment in a traced run.
func traceEnv() []string {
	if !tracing() {
		return nil
	}
	return append(os.Environ(), "GODEBUG=gctrace=1")
}

// span is one interval of wall time with what happened in it.
type span struct {
	from, to time.Time
	what     string
}

// changeSpans collects the timed changes of a traced run.
type changeSpans []span

// add records a change of latency secs that ended now.
func (c *changeSpans) add(k int, secs float64) {
	if !tracing() {
		return
	}
	end := time.Now()
	*c = append(*c, span{end.Add(-time.Duration(secs * float64(time.Second))), end, fmt.Sprintf("change %d: %.3f s", k, secs)})
}

// report prints, for each change slower than twice the median, the syncs
// and collections of p's log that overlapped it (from 50 ms before).
func (c changeSpans) report(t *testing.T, p *proc) {
	t.Helper()
	if len(c) == 0 {
		return
	}
	events, err := readTrace(p)
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	lat := make([]time.Duration, len(c))
	for i, s := range c {
		lat[i] = s.to.Sub(s.from)
	}
	slices.Sort(lat)
	slow := 2 * lat[len(lat)/2]
	for _, s := range c {
		if s.to.Sub(s.from) < slow {
			continue
		}
		fmt.Printf("trace: %s\n", s.what)
		for _, e := range events {
			if e.to.After(s.from.Add(-50*time.Millisecond)) && e.from.Before(s.to) {
				fmt.Printf("trace:   %+.3f..%+.3f %s\n", e.from.Sub(s.from).Seconds(), e.to.Sub(s.from).Seconds(), e.what)
			}
		}
	}
}

// gcLine is gctrace's line: cycle, seconds since start, then the
// wall-clock phases in ms (sweep termination + mark + mark termination).
var gcLine = regexp.MustCompile(`^gc (\d+) @([0-9.]+)s [0-9]+%: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock.*?(\d+->\d+->\d+ MB)`)

// readTrace reads the syncs and collections of p's log.
func readTrace(p *proc) ([]span, error) {
	f, err := os.Open(p.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []span
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gcLine.FindStringSubmatch(line); m != nil {
			at, _ := strconv.ParseFloat(m[2], 64)
			var ms float64
			for _, v := range m[3:6] {
				x, _ := strconv.ParseFloat(v, 64)
				ms += x
			}
			from := p.started.Add(time.Duration(at * float64(time.Second)))
			out = append(out, span{from, from.Add(time.Duration(ms * float64(time.Millisecond))), "gc " + m[1] + " " + m[6]})
			continue
		}
		// The console encoder's line: time, level, message, JSON fields.
		f := strings.SplitN(line, "\t", 4)
		if len(f) < 4 || f[2] != "synced" {
			continue
		}
		var rec struct {
			Took   float64 `json:"took"`
			Full   bool    `json:"full"`
			Result string  `json:"result"`
		}
		if err := json.Unmarshal([]byte(f[3]), &rec); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		end, err := time.Parse("2006-01-02T15:04:05.000Z0700", f[0])
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		out = append(out, span{end.Add(-time.Duration(rec.Took * float64(time.Second))), end,
			fmt.Sprintf("sync full=%t %s", rec.Full, rec.Result)})
	}
	return out, sc.Err()
}

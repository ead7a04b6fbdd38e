package benchreport

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// FigurePrefix starts every console line that carries a figure:
// "bench: MODE SERVICES KEY VALUE".
const FigurePrefix = "bench: "

// Keys of the figures the guest prints.
const (
	KeyCold          = "cold_s"         // process start to fully programmed
	KeyRestore       = "restore_s"      // ipvsadm -R of the same table
	KeyChange        = "change_s"       // one event to the kernel; one line per change
	KeyPeakRSS       = "peak_rss_kib"   // VmHWM at the end
	KeyIdleTicks     = "idle_ticks"     // utime+stime of the daemon and its waited-for children over the idle window, in clock ticks
	KeyIdleSeconds   = "idle_s"         // the idle window
	KeyWritesChanges = "writes_changes" // IPVS netlink writes over all the changes
	KeyRealServers   = "real_servers"   // in the kernel after the cold start
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// Result is one mode at one size.
type Result struct {
	Mode     string
	Services int
	// Cold and Restore are seconds; Restore is 0 where not measured.
	Cold, Restore float64
	// Changes are the event-to-kernel latencies in seconds, in order.
	Changes     []float64
	RealServers int
	PeakRSSKiB  float64
	IdleTicks   float64
	IdleSeconds float64
	// WritesChanges is -1 where the daemon has no counter (kube-proxy).
	WritesChanges float64
	// DataPath is the connection-setup figures (-modes datapath).
	DataPath DataPath
}

// FigureLine renders one figure as the guest prints it.
func FigureLine(mode string, services int, key string, value float64) string {
	return fmt.Sprintf("%s%s %d %s %s", FigurePrefix, mode, services, key, strconv.FormatFloat(value, 'f', -1, 64))
}

// Parse reads the figure lines of a console (other lines are skipped) and
// returns one Result per mode and size, sorted by mode then size.
func Parse(r io.Reader) ([]Result, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	byKey := map[[2]string]*Result{}
	var errs []error
	for n, line := range strings.Split(string(b), "\n") {
		i := strings.Index(line, FigurePrefix)
		if i < 0 {
			continue
		}
		if err := add(byKey, strings.Fields(line[i+len(FigurePrefix):])); err != nil {
			errs = append(errs, fmt.Errorf("line %d %q: %w", n+1, line, err))
		}
	}
	out := make([]Result, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Result) int {
		return cmp.Or(cmp.Compare(modeOrder(a.Mode), modeOrder(b.Mode)), cmp.Compare(a.Mode, b.Mode), cmp.Compare(a.Services, b.Services))
	})
	return out, errors.Join(errs...)
}

func modeOrder(m string) int {
	return map[string]int{Standalone: 0, Kube: 1, KubePaused: 2, KubeProxy: 3, KubeProxyNFT: 4}[m]
}

func add(byKey map[[2]string]*Result, f []string) error {
	if len(f) != 4 {
		return errors.New("want MODE SERVICES KEY VALUE")
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	v, err := strconv.ParseFloat(f[3], 64)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	r := byKey[[2]string{f[0], f[1]}]
	if r == nil {
		r = &Result{Mode: f[0], Services: n, WritesChanges: -1}
		byKey[[2]string{f[0], f[1]}] = r
	}
	switch f[2] {
	case KeyCold:
		r.Cold = v
	case KeyRestore:
		r.Restore = v
	case KeyChange:
		r.Changes = append(r.Changes, v)
	case KeyPeakRSS:
		r.PeakRSSKiB = v
	case KeyIdleTicks:
		r.IdleTicks = v
	case KeyIdleSeconds:
		r.IdleSeconds = v
	case KeyWritesChanges:
		r.WritesChanges = v
	case KeyRealServers:
		r.RealServers = int(v)
	default:
		if !r.DataPath.set(f[2], v) {
			return fmt.Errorf("unknown figure %q", f[2])
		}
	}
	return nil
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of xs,
// NaN for none.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}

// scaleMeasured reports whether r has figures of the scale table (a
// data-path run prints none).
func (r Result) scaleMeasured() bool {
	return r.Cold > 0 || r.RealServers > 0 || len(r.Changes) > 0 || r.PeakRSSKiB > 0
}

// RestoreRatio is the cold start over ipvsadm -R of the same table, NaN
// where the floor was not measured.
func (r Result) RestoreRatio() float64 {
	if r.Restore <= 0 {
		return math.NaN()
	}
	return r.Cold / r.Restore
}

// IdleCPUPercent is the share of one core used over the idle window.
func (r Result) IdleCPUPercent() float64 {
	if r.IdleSeconds <= 0 {
		return math.NaN()
	}
	return 100 * r.IdleTicks / clockTicks / r.IdleSeconds
}

// WritesPerChange is NaN where unknown or there were no changes.
func (r Result) WritesPerChange() float64 {
	if r.WritesChanges < 0 || len(r.Changes) == 0 {
		return math.NaN()
	}
	return r.WritesChanges / float64(len(r.Changes))
}

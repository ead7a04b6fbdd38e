//go:build lab

package profilekube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

// Config sizes one profiling run. The Services must exist (the host makes
// them with apiserver.CreateScale) before Run starts the daemon.
type Config struct {
	Namespace           string
	Services, Endpoints int
	// Changes is the number of single-endpoint EndpointSlice updates.
	Changes int
	// Window is the length of one CPU profile; a phase takes as many
	// windows as it lasts (up to MaxWindows).
	Window     time.Duration
	MaxWindows int
	// Idle is the length of the idle phase (one CPU profile).
	Idle time.Duration
	// Args is the `ipvsd ...` command line; it must turn profiling on and
	// serve it at PprofURL.
	Args []string
	// Env is added to the daemon's environment (GOMEMLIMIT=off, say).
	Env      []string
	PprofURL string // e.g. http://127.0.0.1:10249/debug/pprof
	// Out receives the profiles and the figure lines (the console).
	Out io.Writer
	Log string // the daemon's log file
}

// Figures are what a run measured. Times are wall times in the VM.
type Figures struct {
	ProfilerUp, ColdStart time.Duration
	RealServers           int
	// Changes are the API write -> real server in the kernel latencies.
	Changes []time.Duration
	// IdleCPU is the process's CPU time (user+system) during Idle.
	IdleCPU           time.Duration
	PeakRSSKiB        int
	PeakRSSColdKiB    int
	IPVSAdmRestore    time.Duration
	IPVSAdmRestoreVSs int
}

// Run starts the daemon, profiles its cold start, the changes and idle,
// stops it and measures `ipvsadm -R` of the table it programmed (the
// floor). Each figure is printed as soon as it is known, so a run cut
// short still reports what it reached.
func Run(ctx context.Context, c kubernetes.Interface, cfg Config) (Figures, error) {
	var f Figures
	d, err := startDaemon(cfg)
	if err != nil {
		return f, err
	}
	defer d.stop()
	if err := waitFor(ctx, 5*time.Minute, func() bool { return guestutil.HTTPOK(cfg.PprofURL + "/") }); err != nil {
		return f, errors.Join(fmt.Errorf("profiler at %s never answered: %w", cfg.PprofURL, err), d.exitErr())
	}
	f.ProfilerUp = time.Since(d.start)
	figure(cfg.Out, "profiler_up", seconds(f.ProfilerUp), "s")

	if err := coldPhase(ctx, cfg, d, &f); err != nil {
		return f, errors.Join(err, d.exitErr())
	}
	if err := changesPhase(ctx, c, cfg, d, &f); err != nil {
		return f, errors.Join(err, d.exitErr())
	}
	if err := idlePhase(ctx, cfg, d, &f); err != nil {
		return f, errors.Join(err, d.exitErr())
	}
	f.PeakRSSKiB = peakRSS(d.pid())
	figure(cfg.Out, "peak_rss", strconv.Itoa(f.PeakRSSKiB), "KiB")
	rssSplit(cfg.Out, d.pid(), "_at_end")
	if err := d.stop(); err != nil {
		return f, err
	}
	return f, restoreFloor(cfg, &f)
}

// coldPhase waits, profiling, until every real server is in the kernel.
func coldPhase(ctx context.Context, cfg Config, d *daemon, f *Figures) error {
	want := cfg.Services * cfg.Endpoints
	done := make(chan error, 1)
	go func() {
		done <- waitFor(ctx, time.Duration(cfg.MaxWindows)*cfg.Window, func() bool {
			n, err := realServers()
			if err == nil && n >= want {
				f.ColdStart, f.RealServers = time.Since(d.start), n
				return true
			}
			return d.exited()
		})
	}()
	err := profileUntil(ctx, cfg, d.pid(), "cold", done)
	if err == nil && f.ColdStart == 0 {
		err = fmt.Errorf("cold start: the daemon exited before %d real servers were programmed", want)
	}
	if err != nil {
		return err
	}
	f.PeakRSSColdKiB = peakRSS(d.pid())
	figure(cfg.Out, "cold_start", seconds(f.ColdStart), "s")
	figure(cfg.Out, "real_servers", strconv.Itoa(f.RealServers), "count")
	figure(cfg.Out, "peak_rss_after_cold", strconv.Itoa(f.PeakRSSColdKiB), "KiB")
	rssSplit(cfg.Out, d.pid(), "_after_cold")
	return nil
}

// changesPhase makes the changes one at a time while profiling.
func changesPhase(ctx context.Context, c kubernetes.Interface, cfg Config, d *daemon, f *Figures) error {
	done := make(chan error, 1)
	go func() {
		var errs []error
		for k := range cfg.Changes {
			lat, err := change(ctx, c, cfg, k)
			if err != nil {
				errs = append(errs, err)
				break
			}
			f.Changes = append(f.Changes, lat)
			figure(cfg.Out, fmt.Sprintf("change_%02d", k), seconds(lat), "s")
		}
		done <- errors.Join(errs...)
	}()
	if err := profileUntil(ctx, cfg, d.pid(), "changes", done); err != nil {
		return err
	}
	figure(cfg.Out, "change_p50", seconds(Percentile(f.Changes, 50)), "s")
	figure(cfg.Out, "change_p99", seconds(Percentile(f.Changes, 99)), "s")
	return nil
}

// idlePhase takes one CPU profile of cfg.Idle and the CPU time spent in it.
func idlePhase(ctx context.Context, cfg Config, d *daemon, f *Figures) error {
	before, err := cpuTime(d.pid())
	if err != nil {
		return err
	}
	if err := profile(ctx, cfg, "idle-cpu", "/profile?seconds="+strconv.Itoa(int(cfg.Idle.Seconds()))); err != nil {
		return err
	}
	after, err := cpuTime(d.pid())
	if err != nil {
		return err
	}
	f.IdleCPU = after - before
	figure(cfg.Out, "idle_cpu", seconds(f.IdleCPU), "s_cpu_in_"+seconds(cfg.Idle)+"_s")
	return profile(ctx, cfg, "idle-heap", "/heap")
}

// profileUntil takes CPU profiles of one window each until done has
// reported (checked after each window), then a heap profile. After each
// window it also takes a heap profile (the live heap at the last
// collection, no collection forced) and prints the resident set, so the
// window where the peak was reached can be told and its heap read.
func profileUntil(ctx context.Context, cfg Config, pid int, phase string, done <-chan error) error {
	for k := 1; ; k++ {
		if err := profile(ctx, cfg, fmt.Sprintf("%s-cpu-%d", phase, k), "/profile?seconds="+strconv.Itoa(int(cfg.Window.Seconds()))); err != nil {
			return err
		}
		if err := profile(ctx, cfg, fmt.Sprintf("%s-heap-%d", phase, k), "/heap"); err != nil {
			return err
		}
		for _, f := range []string{"VmRSS", "VmHWM", "RssAnon"} {
			figure(cfg.Out, fmt.Sprintf("%s_%s_%d", f, phase, k), strconv.Itoa(statusKiB(pid, f)), "KiB")
		}
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("phase %s: %w", phase, err)
			}
			return profile(ctx, cfg, phase+"-heap", "/heap")
		default:
		}
		if k >= cfg.MaxWindows {
			return fmt.Errorf("phase %s: not done after %d windows of %s", phase, k, cfg.Window)
		}
	}
}

// profile fetches one profile and emits it.
func profile(ctx context.Context, cfg Config, name, path string) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Window+cfg.Idle+2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.PprofURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s: %s", name, resp.Status, data)
	}
	return lab.EmitProfile(cfg.Out, name, data)
}

func figure(w io.Writer, name, value, unit string) {
	fmt.Fprintf(w, "figure: %s %s %s\n", name, value, unit)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// daemon is the running ipvsd.
type daemon struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{}
	err   error
	log   *os.File
}

func startDaemon(cfg Config) (*daemon, error) {
	logf, err := os.Create(cfg.Log)
	if err != nil {
		return nil, err
	}
	d := &daemon{cmd: exec.Command("ipvsd", cfg.Args...), done: make(chan struct{}), log: logf}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if len(cfg.Env) > 0 {
		d.cmd.Env = append(os.Environ(), cfg.Env...)
	}
	d.start = time.Now()
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting ipvsd: %w", err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// exitErr says how the daemon ended, if it did.
func (d *daemon) exitErr() error {
	if !d.exited() {
		return nil
	}
	return fmt.Errorf("ipvsd exited: %v (log in %s)", d.err, d.log.Name())
}

// stop ends the daemon with SIGTERM; a second call does nothing.
func (d *daemon) stop() error {
	if d.exited() {
		d.log.Close()
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		_ = d.cmd.Process.Kill()
		<-d.done
		return errors.New("ipvsd ignored SIGTERM for a minute")
	}
	d.log.Close()
	if d.err != nil {
		return fmt.Errorf("ipvsd on SIGTERM: %w", d.err)
	}
	return nil
}

// waitFor polls cond every 200 ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// realServers counts the real servers in the kernel (`ipvsadm -Ln`).
func realServers() (int, error) {
	out, err := exec.Command("ipvsadm", "-Ln").Output()
	if err != nil {
		return 0, fmt.Errorf("ipvsadm -Ln: %w", err)
	}
	return strings.Count(string(out), "\n  -> ") - strings.Count(string(out), "\n  -> RemoteAddress"), nil
}

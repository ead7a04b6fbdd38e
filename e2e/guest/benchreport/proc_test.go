//go:build lab

package benchreport

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// proc is one daemon under measurement.
type proc struct {
	name    string
	cmd     *exec.Cmd
	log     string
	started time.Time
	exited  chan struct{}
	err     error
}

// start runs name with args, its output in a log shown when t fails. The
// clock of the cold start starts just before the exec.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, exec.Command(name, args...))
}

// startIn is start with the process in network namespace ns (`ip netns
// exec` execs it in place: the PID, its CPU and its RSS are name's).
func startIn(t *testing.T, ns *nettest.NS, name string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, ns.Command(name, args...))
}

// startCmd runs cmd as start does.
func startCmd(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	logf, err := os.CreateTemp("", name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logf.Name(), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			if b, err := os.ReadFile(p.log); err == nil {
				t.Logf("%s log (tail):\n%s", name, tail(string(b), 80))
			}
		}
	})
	return p
}

// stop sends SIGTERM (SIGKILL after a minute) and waits; a second call
// does nothing.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s ignored SIGTERM for a minute", p.name)
	}
}

// alive fails t at once when the process has died.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		b, _ := os.ReadFile(p.log)
		t.Fatalf("%s exited: %v\n%s", p.name, p.err, tail(string(b), 60))
	default:
	}
}

// waitFor polls cond every interval until it holds, failing t after
// timeout or when the process dies; it returns the time since start.
func (p *proc) waitFor(t *testing.T, what string, timeout, interval time.Duration, cond func() bool) time.Duration {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		p.alive(t)
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s after %s", p.name, what, timeout)
		}
		time.Sleep(interval)
	}
	return time.Since(p.started)
}

// cpuTicks is the CPU of the process and of its children it has waited
// for (utime+stime+cutime+cstime), in clock ticks: a daemon that runs
// ipset, iptables-restore or iptables-save for its firewall pays for
// them, and its idle figure must show it.
func (p *proc) cpuTicks(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15, cutime 16 and
	// cstime 17.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var sum float64
	for _, i := range []int{11, 12, 13, 14} {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			t.Fatalf("parsing /proc/%d/stat %q: %v", p.cmd.Process.Pid, b, err)
		}
		sum += v
	}
	return sum
}

// peakRSSKiB is VmHWM of the process.
func (p *proc) peakRSSKiB(t *testing.T) float64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
	return 0
}

// idle measures the process's CPU over the idle window and prints it.
func (p *proc) idle(t *testing.T, mode string, n int, window time.Duration) {
	t.Helper()
	c0, t0 := p.cpuTicks(t), time.Now()
	time.Sleep(window)
	c1, took := p.cpuTicks(t), time.Since(t0)
	p.alive(t)
	figure(mode, n, benchreport.KeyIdleTicks, c1-c0)
	figure(mode, n, benchreport.KeyIdleSeconds, took.Seconds())
}

// metricsClient fetches /metrics: at 10,000 Services the text is large
// and the emulated CPU takes seconds to render it.
var metricsClient = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}

// metric sums the samples of name (any labels) in the Prometheus text at
// url; ok is false when there is none or the fetch failed.
func metric(url, name string) (float64, bool) { return metricVia(metricsClient, url, name) }

// metricVia is metric fetched with c (a node namespace's client).
func metricVia(c *http.Client, url, name string) (float64, bool) {
	v, err := scrapeVia(c, url, name)
	return v, err == nil
}

// scrape is metric with the reason it found no sample.
func scrape(url, name string) (float64, error) { return scrapeVia(metricsClient, url, name) }

// scrapeVia is scrape fetched with c.
func scrapeVia(c *http.Client, url, name string) (float64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name+" ") && !strings.HasPrefix(l, name+"{") {
			continue
		}
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", url, err)
	}
	if !found {
		return 0, fmt.Errorf("no sample of %s", name)
	}
	return sum, nil
}

// mustMetric is metric that fails t when the sample is missing.
func mustMetric(t *testing.T, url, name string) float64 {
	t.Helper()
	v, err := scrape(url, name)
	if err != nil {
		t.Fatalf("%s at %s: %v", name, url, err)
	}
	return v
}

// figure prints one figure for the host.
func figure(mode string, n int, key string, v float64) {
	fmt.Println(benchreport.FigureLine(mode, n, key, v))
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

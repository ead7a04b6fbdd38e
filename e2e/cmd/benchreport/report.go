package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

// vmRun is one VM's outcome, for the report's footer.
type vmRun struct {
	mode string
	size int
	// total includes creating the API objects; vm is the VM's alone.
	total, vm time.Duration
	err       error
}

// report runs every mode at every size, one VM each, and writes the
// results. A failed run is reported and the others still run; the table
// and plot hold what was measured.
func report(o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(o.ipvsd); err != nil {
		return fmt.Errorf("the ipvsd binary: %w (make build writes bin/ipvsd)", err)
	}
	bins, err := lab.BuildTestBinaries([]string{"./e2e/guest/benchreport"})
	if err != nil {
		return err
	}
	var figures bytes.Buffer
	var runs []vmRun
	for _, n := range o.sizes {
		for _, mode := range o.modes {
			start := time.Now()
			vm, err := runVM(o, bins[0], mode, n, &figures)
			runs = append(runs, vmRun{mode, n, time.Since(start), vm, err})
			if err != nil {
				fmt.Fprintf(os.Stderr, "benchreport: %s at %d services: %v\n", mode, n, err)
			}
			// Written after each run, so a long run's early results survive.
			if werr := write(o, figures.Bytes(), runs); werr != nil {
				return errors.Join(werr, err)
			}
		}
	}
	var errs []error
	for _, r := range runs {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s at %d services: %w", r.mode, r.size, r.err))
		}
	}
	return errors.Join(errs...)
}

// runVM boots one VM for mode at n services and appends its figure lines
// to figures; the whole console goes to OUT/console-MODE-N.log.
func runVM(o options, tests lab.Binary, mode string, n int, figures *bytes.Buffer) (time.Duration, error) {
	cfg := lab.Config{
		Tools:    []lab.Binary{{Name: "ipvsd", HostPath: o.ipvsd}},
		MemoryMB: o.memoryMB,
		Timeout:  vmTimeout(o, mode, n),
		Env: map[string]string{
			"BENCH_SERVICES":             strconv.Itoa(n),
			"BENCH_CHANGES":              strconv.Itoa(o.changes),
			"BENCH_IDLE_SECONDS":         strconv.Itoa(o.idle),
			"BENCH_COLD_TIMEOUT_SECONDS": strconv.Itoa(int(coldTimeout(o, n).Seconds())),
			"BENCH_DP_CONNS":             strconv.Itoa(o.dpConns),
			"BENCH_DP_KUBE_PROXY":        map[bool]string{true: "1", false: "0"}[o.dpKubeProxy],
			"BENCH_SYNC_PERIOD_SECONDS":  strconv.Itoa(o.syncPeriod),
			"BENCH_TRACE":                map[bool]string{true: "1", false: "0"}[o.trace],
		},
	}
	tests.Args = []string{"-test.v", "-test.timeout=" + cfg.Timeout.String(), "-test.run=" + guestTests(o, mode)}
	if mode != "standalone" {
		if (mode == "datapath" && o.dpKubeProxy) || (mode == "kube" && o.kubeProxy) {
			bins, err := apiserver.EnsureBinaries()
			if err != nil {
				return 0, err
			}
			cfg.Tools = append(cfg.Tools, lab.Binary{Name: "kube-proxy", HostPath: bins.KubeProxy})
		}
		dir, err := os.MkdirTemp("", "benchreport-apiserver-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		files, stop, err := kubeCluster(dir, n, logf)
		if err != nil {
			return 0, err
		}
		defer func() {
			if err := stop(); err != nil {
				logf("stopping the API server: %v", err)
			}
		}()
		cfg.Files, cfg.Network = files, true
	}
	cfg.Run = []lab.Binary{tests}
	return boot(o, cfg, mode, n, figures)
}

func boot(o options, cfg lab.Config, mode string, n int, figures *bytes.Buffer) (time.Duration, error) {
	logPath := filepath.Join(o.out, fmt.Sprintf("console-%s-%d.log", mode, n))
	f, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var console bytes.Buffer
	logf("%s at %d services: booting the VM (console in %s)", mode, n, logPath)
	res, err := lab.Boot(context.Background(), cfg, io.MultiWriter(os.Stdout, f, &console))
	for _, l := range strings.Split(console.String(), "\n") {
		if strings.Contains(l, benchreport.FigurePrefix) {
			figures.WriteString(l[strings.Index(l, benchreport.FigurePrefix):] + "\n")
		}
	}
	logf("%s at %d services: VM exit status %d, wall time %s", mode, n, res.ExitCode, res.Wall.Round(time.Second))
	if err != nil {
		return res.Wall, err
	}
	if res.ExitCode != 0 {
		return res.Wall, fmt.Errorf("the guest exited %d (see %s)", res.ExitCode, logPath)
	}
	return res.Wall, nil
}

// guestTests is the -test.run pattern of e2e/guest/benchreport for mode.
func guestTests(o options, mode string) string {
	switch {
	case mode == "standalone":
		return "^TestStandalone$"
	case mode == "datapath":
		return "^TestDataPath$"
	case o.kubeProxy:
		return "^TestKube(Proxy)?$"
	}
	return "^TestKube$"
}

// coldTimeout bounds one cold start: -cold-timeout, or 10 min + 6 s per
// 100 services (kube-proxy's nftables mode needs more at 10,000).
func coldTimeout(o options, n int) time.Duration {
	if o.coldTimeout > 0 {
		return o.coldTimeout
	}
	return 10*time.Minute + time.Duration(n/100)*6*time.Second
}

// vmTimeout is -vm-timeout, or a bound that grows with the table and
// the changes: the cold start's bound, a quarter of an hour for idle and
// the floor, and 10 s + 10 ms per service for each change (a standalone
// reload still parses the whole file: 8.5 s at 1,000 services under
// emulation), twice over with kube-proxy. It only stops a hung guest;
// the guest fails a change that never arrives on its own.
//
// A datapath VM has one cold start (ipvsd's and kube-proxy nftables' at
// once) and four times dp-conns connections plus the warm-up (each
// proxy's ClusterIP and direct), each given 20 ms (a few under
// emulation), and no changes.
func vmTimeout(o options, mode string, n int) time.Duration {
	if o.vmTimeout > 0 {
		return o.vmTimeout
	}
	if mode == "datapath" {
		return coldTimeout(o, n) + 15*time.Minute + time.Duration(4*(o.dpConns+100))*20*time.Millisecond
	}
	perChange := 10*time.Second + time.Duration(n)*10*time.Millisecond
	d := coldTimeout(o, n) + 15*time.Minute + time.Duration(max(o.changes, 1))*perChange
	if o.kubeProxy {
		d *= 2
	}
	return d
}

// rerender is -from: the table and plot of an earlier run's figures.
func rerender(o options) error {
	figures, err := os.ReadFile(o.from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	return write(o, figures, nil)
}

// write writes the figures, the table (and prints it) and the plot.
func write(o options, figures []byte, runs []vmRun) error {
	if err := os.WriteFile(filepath.Join(o.out, "figures.txt"), figures, 0o644); err != nil {
		return err
	}
	results, err := benchreport.Parse(bytes.NewReader(figures))
	if err != nil {
		return err
	}
	scale, dp := benchreport.Table(results), benchreport.DataPathTable(results)
	table := scale + sep(scale, dp) + dp + footer(runs)
	fmt.Print("\n" + table)
	if err := os.WriteFile(filepath.Join(o.out, "table.txt"), []byte(table), 0o644); err != nil {
		return err
	}
	var errs []error
	if scale != "" {
		errs = append(errs, benchreport.Plot(results, filepath.Join(o.out, "plot.png")))
	}
	if dp != "" {
		errs = append(errs, benchreport.PlotDataPath(results, filepath.Join(o.out, "plot-datapath.png")))
	}
	return errors.Join(errs...)
}

// sep is a blank line between two tables when both are there.
func sep(a, b string) string {
	if a != "" && b != "" {
		return "\n"
	}
	return ""
}

// footer names each VM run with its wall time and outcome.
func footer(runs []vmRun) string {
	if runs == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nrun on %s; wall time of each VM (and of the run, API objects included):", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	for _, r := range runs {
		status := "ok"
		if r.err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(&b, " %s/%d %s (%s) %s;", r.mode, r.size, r.vm.Round(time.Second), r.total.Round(time.Second), status)
	}
	return strings.TrimSuffix(b.String(), ";") + "\n"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchreport: "+format+"\n", args...)
}

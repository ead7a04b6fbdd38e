//go:build lab

package profilekube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
)

// change k replaces the first endpoint of one Service (spread over the
// set) by a new address and returns the time from the API write to that
// real server being in the kernel, polled every 10 ms with ipvsadm (whose
// run under emulation, some tens of ms, bounds the resolution).
func change(ctx context.Context, c kubernetes.Interface, cfg Config, k int) (time.Duration, error) {
	i := k * cfg.Services / cfg.Changes
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	svc, err := c.CoreV1().Services(cfg.Namespace).Get(wctx, apiserver.ScaleService(i), metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("change %d: %w", k, err)
	}
	slice, err := c.DiscoveryV1().EndpointSlices(cfg.Namespace).Get(wctx, apiserver.ScaleSlice(i), metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("change %d: %w", k, err)
	}
	eps := apiserver.ScaleEndpoints(i, cfg.Endpoints)
	eps[0].IP = fmt.Sprintf("10.126.%d.%d", k/250, k%250+1)
	apiserver.SetEndpoints(slice, eps)
	vip := net.JoinHostPort(svc.Spec.ClusterIP, "80")
	want := []byte(" " + net.JoinHostPort(eps[0].IP, "8080") + " ")
	start := time.Now()
	if _, err := c.DiscoveryV1().EndpointSlices(cfg.Namespace).Update(wctx, slice, metav1.UpdateOptions{}); err != nil {
		return 0, fmt.Errorf("change %d: updating %s: %w", k, slice.Name, err)
	}
	deadline := start.Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := exec.Command("ipvsadm", "-Ln", "-t", vip).Output()
		if err == nil && bytes.Contains(out, want) {
			return time.Since(start), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("change %d: %s not behind %s after 5 minutes", k, eps[0].IP, vip)
}

// Percentile is the p-th percentile (nearest rank) of ds; 0 for none.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	r := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	return s[max(r, 1)-1]
}

// cpuTime is a process's user+system time from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	var ticks int64
	for _, s := range fields[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux the lab boots.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// peakRSS is VmHWM in KiB, 0 when unknown.
func peakRSS(pid int) int { return statusKiB(pid, "VmHWM") }

// statusKiB is one "kB" field of /proc/PID/status, 0 when unknown.
func statusKiB(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// rssSplit prints what the resident set is made of now: anonymous memory
// (the Go heap, stacks and runtime) and the binary's pages as far as they
// were touched (file pages; shared memory in the lab, whose binaries live
// in the initramfs), which VmHWM, the peak, sums.
func rssSplit(w io.Writer, pid int, when string) {
	for _, f := range []string{"RssAnon", "RssFile", "RssShmem"} {
		figure(w, f+when, strconv.Itoa(statusKiB(pid, f)), "KiB")
	}
}

// restoreFloor saves the table the daemon left, clears it and times
// `ipvsadm -R` of it: the floor the cold start is compared with.
func restoreFloor(cfg Config, f *Figures) error {
	table, err := exec.Command("ipvsadm", "-Sn").Output()
	if err != nil {
		return fmt.Errorf("ipvsadm -Sn: %w", err)
	}
	if out, err := exec.Command("ipvsadm", "-C").CombinedOutput(); err != nil {
		return fmt.Errorf("ipvsadm -C: %w: %s", err, out)
	}
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = bytes.NewReader(table)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ipvsadm -R: %w: %s", err, out)
	}
	f.IPVSAdmRestore = time.Since(start)
	f.IPVSAdmRestoreVSs = bytes.Count(table, []byte("\n-A "))
	if bytes.HasPrefix(table, []byte("-A ")) {
		f.IPVSAdmRestoreVSs++
	}
	figure(cfg.Out, "ipvsadm_restore", seconds(f.IPVSAdmRestore), "s")
	figure(cfg.Out, "ipvsadm_restore_virtual_servers", strconv.Itoa(f.IPVSAdmRestoreVSs), "count")
	return nil
}

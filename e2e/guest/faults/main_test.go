//go:build lab

package faults

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// The daemon runs with its defaults where the tests judge them: the
// record under /run/ipvsd, the VIPs on ipvs0.
const (
	recordDir   = "/run/ipvsd"
	recordPath  = recordDir + "/state.json"
	link        = "ipvs0"
	metricsAddr = "127.0.0.1:9578"
	// backendLink routes the backends' network, so the kernel accepts
	// them as NAT real servers (it refuses destinations it cannot route).
	backendLink = "faultsbe"
	backendNet  = "10.100.0.0/16"
)

// setup empties the kernel's IPVS table and removes every trace of ipvsd
// before and after the test, and routes the backends' network.
func setup(t *testing.T) {
	t.Helper()
	clean := func() {
		run(t, "ipvsadm", "-C")
		// An empty record: this removes only our firewall chains and sets.
		_ = exec.Command("ipvsd", "cleanup", "--record", filepath.Join(os.TempDir(), "faults-empty-record.json")).Run()
		_ = exec.Command("/sbin/ip", "link", "del", link).Run()        // absent is fine
		_ = exec.Command("/sbin/ip", "link", "del", backendLink).Run() // absent is fine
		if err := os.RemoveAll(recordDir); err != nil {
			t.Error(err)
		}
	}
	clean()
	t.Cleanup(clean)
	run(t, "/sbin/ip", "link", "add", backendLink, "type", "dummy")
	run(t, "/sbin/ip", "link", "set", backendLink, "up")
	run(t, "/sbin/ip", "route", "add", backendNet, "dev", backendLink)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// summary is the daemon's log without its per-VIP lines (1,000 at the
// full size), which it counts instead. The log is kept, not echoed: the
// console would drown in 10,000 services' worth of it.
func summary(b *lab.LogBuffer) string {
	var keep []string
	vips := 0
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if strings.Contains(l, "\tbound VIP\t") {
			vips++
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n") + fmt.Sprintf("\n(and %d \"bound VIP\" lines)", vips)
}

// daemon is one `ipvsd standalone` process.
type daemon struct {
	cmd   *exec.Cmd
	log   *lab.LogBuffer
	done  chan struct{}
	err   error
	start time.Time
}

func startDaemon(t *testing.T, config string) *daemon {
	t.Helper()
	d := &daemon{log: &lab.LogBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command("ipvsd", "standalone", "--config", config, "--metrics-addr", metricsAddr, "--watch-interval", "0")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.start = time.Now()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		if d.running() {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits until the process is gone, so the kernel
// state the test reads afterwards is final.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v (the daemon ended before: %v)\n%s", err, d.err, d.log.Tail(20))
	}
	<-d.done
}

// stop sends SIGTERM and requires a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("ipvsd exited with %v after SIGTERM\n%s", d.err, d.log.Tail(20))
		}
	case <-time.After(time.Minute):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("ipvsd ignored SIGTERM for a minute; its log:\n%s", summary(d.log))
	}
}

// waitHealthy waits until /healthz answers 200, which it does once a
// sync has succeeded: every desired object is then in the kernel.
func (d *daemon) waitHealthy(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if !d.running() {
			t.Fatalf("ipvsd exited before a successful sync: %v\n%s", d.err, d.log.Tail(20))
		}
		if resp, err := c.Get("http://" + metricsAddr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(d.start)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful sync within %s\n%s", timeout, d.log.Tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writeConfig writes c as the daemon's config file.
func writeConfig(t *testing.T, c desiredConfig) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "standalone.yaml")
	if err := os.WriteFile(path, c.yaml(), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("config: %d services x %d backends, %d bytes", c.services, c.backends, fi.Size())
	return path
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

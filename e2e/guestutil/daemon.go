package guestutil

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// Daemon is an ipvsd process a guest test started, in a network
// namespace of its own (a director) or in the VM's.
type Daemon struct {
	Name string
	Log  *lab.LogBuffer
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartIPVSD runs ipvsd with args inside ns (nil: the VM's namespace),
// logging to the console with name in front of each line. At the end of
// the test it is stopped with SIGTERM and must exit 0; its log's tail is
// shown if the test failed.
func StartIPVSD(t testing.TB, name string, ns *nettest.NS, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{Name: name, Log: &lab.LogBuffer{Echo: prefixWriter{prefix: name + ": "}}, done: make(chan struct{})}
	if ns != nil {
		d.cmd = ns.Command("ipvsd", args...)
	} else {
		d.cmd = exec.Command("ipvsd", args...)
	}
	d.cmd.Stdout, d.cmd.Stderr = d.Log, d.Log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting ipvsd %s (%s): %v", strings.Join(args, " "), name, err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.Stop(t)
		if t.Failed() {
			t.Logf("%s's log, last lines:\n%s", name, d.Log.Tail(60))
		}
	})
	return d
}

// Stop sends SIGTERM and waits (20 s) for a clean exit; a daemon already
// stopped is left as it is.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", d.Name, d.err)
		}
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("%s ignored SIGTERM for 20 s", d.Name)
	}
}

// Kill ends the daemon with SIGKILL, as a crash or a failed director
// would, and waits for it.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.done
}

// WaitLog waits until the daemon's log holds want.
func (d *Daemon) WaitLog(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() string {
		select {
		case <-d.done:
			return d.Name + " exited (" + errString(d.err) + ") before logging " + want
		default:
		}
		if strings.Contains(d.Log.String(), want) {
			return ""
		}
		return d.Name + " has not logged " + want
	})
}

func errString(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// prefixWriter copies a daemon's output to the console, each write
// prefixed (a write is a log line or more).
type prefixWriter struct{ prefix string }

func (w prefixWriter) Write(p []byte) (int, error) {
	_, err := os.Stderr.Write([]byte(w.prefix + string(p)))
	return len(p), err
}

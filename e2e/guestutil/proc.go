package guestutil

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// Proc is a daemon a guest test started (ipvsd, kube-proxy, bird), its
// output in a log file.
type Proc struct {
	Name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // its exit status, once exited is closed
	log    string
}

// Start runs name with args until Stop, or t's cleanup (which kills it and
// shows its log when t failed).
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return start(t, name, exec.Command(name, args...), false)
}

// StartIPVSD runs ipvsd with args inside ns (nil: the VM's namespace),
// named name in messages. At the end of the test one still running is
// stopped with SIGTERM and must exit 0.
func StartIPVSD(t testing.TB, name string, ns *nettest.NS, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command("ipvsd", args...)
	if ns != nil {
		cmd = ns.Command("ipvsd", args...)
	}
	return start(t, name, cmd, true)
}

func start(t testing.TB, name string, cmd *exec.Cmd, term bool) *Proc {
	t.Helper()
	logf, err := os.CreateTemp("", strings.ReplaceAll(name, "/", "_")+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, exited: make(chan struct{}), log: logf.Name()}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		switch {
		case p.Exited():
		case term:
			p.Stop(t, syscall.SIGTERM)
			if err := p.Err(); err != nil {
				t.Errorf("%s exited with %v after SIGTERM", name, err)
			}
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s (%s) log:\n%s", name, strings.Join(cmd.Args, " "), p.LogTail(150))
		}
	})
	return p
}

// WaitLog waits until the process's log holds want.
func (p *Proc) WaitLog(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() string {
		if b, _ := os.ReadFile(p.log); strings.Contains(string(b), want) {
			return ""
		}
		if p.Exited() {
			return fmt.Sprintf("%s exited (%v) before logging %q", p.Name, p.err, want)
		}
		return fmt.Sprintf("%s has not logged %q", p.Name, want)
	})
}

// LogTail is the last lines of the process's output.
func (p *Proc) LogTail(lines int) string {
	b, _ := os.ReadFile(p.log)
	return Tail(string(b), lines)
}

// Check fails t at once when the process has died.
func (p *Proc) Check(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited: %v\n%s", p.Name, p.err, p.LogTail(80))
	default:
	}
}

// Exited says whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Err is the exit status once the process has ended.
func (p *Proc) Err() error {
	<-p.exited
	return p.err
}

// Stop sends sig and waits for the process to end.
func (p *Proc) Stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s ignored %v for 30 s", p.Name, sig)
	}
}

// Tail is the last lines of s.
func Tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

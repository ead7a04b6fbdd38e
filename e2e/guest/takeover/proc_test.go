//go:build lab

package takeover

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// proc is a daemon the test started (kube-proxy or ipvsd), its output in
// a log file.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // its exit status, once exited is closed
	log    string
}

// start runs name with args until stop, or t's cleanup (which kills it
// and shows its log when t failed).
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	logf, err := os.CreateTemp("", name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), log: logf.Name()}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.logTail(150))
		}
	})
	return p
}

func (p *proc) logTail(lines int) string {
	b, _ := os.ReadFile(p.log)
	return tail(string(b), lines)
}

// check fails t at once when the process has died.
func (p *proc) check(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.logTail(80))
	default:
	}
}

// stop sends sig and waits for the process to end.
func (p *proc) stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s ignored %v for 30 s", p.name, sig)
	}
}

package apiserver

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is one server process with its output in a log file.
type proc struct {
	cmd     *exec.Cmd
	log     string
	done    chan struct{}
	waitErr error
}

func startProc(logPath, bin string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// A test binary killed at its -timeout (or by ^C) runs no cleanup; a
	// leaked kube-apiserver would keep 300 MB and its ports for good, so
	// the kernel kills the servers with it (Pdeathsig fires when the
	// forking thread exits: nothing in the host tests ends a locked
	// thread). Setpgid keeps a terminal's ^C from reaching etcd first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM and, after grace, SIGKILL. kube-apiserver's graceful
// shutdown can outlast any test's patience while clients hold watches open
// (ipvsd does); a test stopping it wants it gone, not a clean exit, so the
// kill is not an error. An exit before the signal is.
func (p *proc) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return fmt.Errorf("%s had already exited: %v (see %s)", p.cmd.Path, p.waitErr, p.log)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling %s: %w", p.cmd.Path, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing %s: %w", p.cmd.Path, err)
	}
	<-p.done
	return nil
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// binary is ipvsd as built by TestMain: the signal tests need the real
// process, with the real signal delivery and exit status.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipvsd-main-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ipvsd")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building ipvsd: %v\n", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// deadline bounds each wait of the tests for the process: a process that
// never exits is the defect, reported as a failure instead of a hung run.
// It is generous because the machine may be loaded; nothing is measured.
const deadline = 2 * time.Minute

func TestStopOnSignals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		signals  []os.Signal
		wantExit int // -1: none
		wantErr  []string
	}{
		{"none", nil, -1, nil},
		{"first stops", []os.Signal{syscall.SIGTERM}, -1, []string{"ipvsd: terminated: stopping (a second signal forces exit)"}},
		{"second forces", []os.Signal{syscall.SIGINT, syscall.SIGTERM}, 143, []string{
			"ipvsd: interrupt: stopping (a second signal forces exit)",
			"ipvsd: terminated again: exiting at once, without a clean stop",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := make(chan os.Signal)
			var (
				mu     sync.Mutex
				stderr bytes.Buffer
			)
			exited := make(chan int, 1)
			ctx, stop := stopOnSignals(context.Background(), sigs, lockedWriter{&mu, &stderr}, func(c int) { exited <- c })
			for _, s := range tc.signals {
				sigs <- s // unbuffered: returns once the watcher took it
			}
			if len(tc.signals) > 0 {
				<-ctx.Done()
			}
			if tc.wantExit >= 0 {
				if got := <-exited; got != tc.wantExit {
					t.Errorf("exit(%d), want exit(%d)", got, tc.wantExit)
				}
			}
			stop()
			if len(tc.signals) == 0 && ctx.Err() == nil {
				t.Error("stop did not cancel the context")
			}
			select {
			case c := <-exited:
				if tc.wantExit < 0 {
					t.Errorf("exit(%d) after %d signals", c, len(tc.signals))
				}
			default:
			}
			mu.Lock()
			defer mu.Unlock()
			if got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tc.wantErr, "\n") {
				t.Errorf("stderr %q, want %q", got, tc.wantErr)
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSignalWhileReadingConfigFIFO starts the real binary with a FIFO as
// --config, which blocks it before its loop in a read the context cannot
// interrupt. The first signal must be acknowledged; the second must end
// the process with 128+signal and one line saying so.
func TestSignalWhileReadingConfigFIFO(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		sig  syscall.Signal
	}{
		{"standalone SIGTERM", []string{"standalone", "--metrics-addr", "", "--iptables-mode", "none"}, syscall.SIGTERM},
		{"standalone SIGINT", []string{"standalone", "--metrics-addr", "", "--iptables-mode", "none"}, syscall.SIGINT},
		{"run SIGTERM", []string{"run"}, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "config.yaml")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			p := start(t, append(tc.args, "--config", fifo)...)
			// Opening the write end succeeds once ipvsd has the read end
			// open: then it is blocked reading the file. The write end
			// stays open and empty, so the read never ends.
			w := openWriter(t, p, fifo)
			defer w.Close()

			p.signal(t, tc.sig)
			// Waiting for the first signal's line keeps the two signals
			// apart: two pending ones would be delivered as one. Without
			// the line, the second is sent anyway to see if it stops it.
			if !p.waitLine(t, "stopping (a second signal forces exit)") {
				t.Errorf("the first %v was not acknowledged", tc.sig)
			}
			p.signal(t, tc.sig)
			code := p.wait(t)
			if want := 128 + int(tc.sig); code != want {
				t.Errorf("exit status %d, want %d", code, want)
			}
			if !p.waitLine(t, "again: exiting at once, without a clean stop") {
				t.Error("the forced exit was not announced")
			}
		})
	}
}

// proc is a started ipvsd whose stderr is read line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan error
	seen   []string
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 100), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.exited <- cmd.Wait()
	}()
	// Kill fails harmlessly once the process has been waited for.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

func (p *proc) signal(t *testing.T, s syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatalf("sending %v: %v", s, err)
	}
}

// waitLine reads stderr until a line containing want, and reports
// whether one came.
func (p *proc) waitLine(t *testing.T, want string) bool {
	t.Helper()
	for _, l := range p.seen {
		if strings.Contains(l, want) {
			return true
		}
	}
	timeout := time.After(deadline)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Logf("ipvsd ended without printing %q; stderr:\n%s", want, strings.Join(p.seen, "\n"))
				return false
			}
			p.seen = append(p.seen, l)
			if strings.Contains(l, want) {
				return true
			}
		case <-timeout:
			t.Logf("no line %q from ipvsd within %v; stderr:\n%s", want, deadline, strings.Join(p.seen, "\n"))
			return false
		}
	}
}

// wait returns the exit status, failing the test if the process does not
// exit: it cannot be stopped.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case l, ok := <-p.lines:
			if ok {
				p.seen = append(p.seen, l)
				continue
			}
			p.lines = nil
		case err := <-p.exited:
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			return p.cmd.ProcessState.ExitCode()
		case <-timeout:
			t.Fatalf("ipvsd did not exit within %v of the signal; stderr:\n%s", deadline, strings.Join(p.seen, "\n"))
		}
	}
}

// openWriter opens the FIFO's write end once ipvsd has opened the read
// end (until then a non-blocking open fails with ENXIO).
func openWriter(t *testing.T, p *proc, fifo string) *os.File {
	t.Helper()
	timeout := time.After(deadline)
	for {
		f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			return f
		}
		if !errors.Is(err, unix.ENXIO) {
			t.Fatal(err)
		}
		select {
		case err := <-p.exited:
			t.Fatalf("ipvsd exited before reading %s: %v; stderr:\n%s", fifo, err, strings.Join(p.seen, "\n"))
		case <-timeout:
			t.Fatalf("ipvsd did not open %s within %v", fifo, deadline)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

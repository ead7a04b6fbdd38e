package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// BuildTests compiles each Go package's tests into a static binary (with
// the `lab` build tag that guest-only tests carry) and returns them as
// binaries to run with -test.v, so failures show the guest's own messages.
// extraArgs are appended to every binary's arguments.
func BuildTests(t testing.TB, pkgs []string, extraArgs ...string) []Binary {
	t.Helper()
	bins, err := buildTests(t.TempDir(), pkgs, append([]string{"-test.v", "-test.timeout=4m"}, extraArgs...))
	if err != nil {
		t.Fatal(err)
	}
	return bins
}

// BuildTestBinaries is BuildTests for commands (no testing.TB): the
// binaries go to a temporary directory and run with exactly args.
func BuildTestBinaries(pkgs []string, args ...string) ([]Binary, error) {
	dir, err := os.MkdirTemp("", "ipvsd-lab-bin-")
	if err != nil {
		return nil, err
	}
	return buildTests(dir, pkgs, args)
}

func buildTests(dir string, pkgs, args []string) ([]Binary, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	var out []Binary
	for _, pkg := range pkgs {
		name := strings.ReplaceAll(strings.Trim(strings.TrimPrefix(pkg, "./"), "/"), "/", "_") + ".test"
		path := filepath.Join(dir, name)
		cmd := exec.Command("go", "test", "-c", "-tags", "lab", "-o", path, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("compiling %s for the lab: %w\n%s", pkg, err, b)
		}
		out = append(out, Binary{Name: name, HostPath: path, Args: args})
	}
	return out, nil
}

var (
	ipvsdOnce sync.Once
	ipvsdPath string
	ipvsdErr  error
)

// IPVSD builds bin/ipvsd (static) once per test process and returns it as
// a tool for the guest's PATH.
func IPVSD(t testing.TB) Binary {
	t.Helper()
	ipvsdOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			ipvsdErr = err
			return
		}
		ipvsdPath = filepath.Join(root, "bin", "ipvsd")
		cmd := exec.Command("go", "build", "-o", ipvsdPath, "./cmd/ipvsd")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			ipvsdErr = fmt.Errorf("building ipvsd: %w\n%s", err, b)
		}
	})
	if ipvsdErr != nil {
		t.Fatal(ipvsdErr)
	}
	return Binary{Name: "ipvsd", HostPath: ipvsdPath}
}

// Run boots one VM for cfg, streams its console into the test log and
// returns the result. It does not judge the exit status: see RunOK.
func Run(t testing.TB, cfg Config) Result {
	t.Helper()
	res := boot(t, cfg)
	if res.SoftLockup {
		// No code under test runs in the guest kernel, so a CPU stuck
		// there for a minute is the kernel's or the emulator's (seen once
		// in CI, in a test that only opens TCP connections). Boot once
		// more; a second lockup fails the test like any other failed run,
		// and both traces stay in the log. A test that leaves state on
		// the host (an API server) sees it again on the second boot.
		t.Logf("lab: guest kernel soft lockup; booting the VM once more")
		res = boot(t, cfg)
	}
	return res
}

func boot(t testing.TB, cfg Config) Result {
	t.Helper()
	w := &lineLogger{t: t}
	res, err := Boot(context.Background(), cfg, w)
	w.flush()
	if err != nil {
		t.Logf("lab: %v", err)
	}
	t.Logf("lab: VM exit status %d, wall time %s", res.ExitCode, res.Wall.Round(1e6))
	return res
}

// RunOK is Run that fails the test unless the guest exited 0.
func RunOK(t testing.TB, cfg Config) Result {
	t.Helper()
	res := Run(t, cfg)
	if res.ExitCode != 0 {
		t.Fatalf("lab VM failed: exit status %d (timed out: %v)", res.ExitCode, res.TimedOut)
	}
	return res
}

// lineLogger turns the console stream into one t.Log call per line; with
// go test -v those appear as they happen.
type lineLogger struct {
	t   testing.TB
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Log("guest| " + string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) flush() {
	if len(l.buf) > 0 {
		l.t.Log("guest| " + string(l.buf))
		l.buf = nil
	}
}

// RequireGuest makes a guest-only test binary fail loudly when it is run
// anywhere but inside the lab VM: such tests must never silently skip.
func RequireGuest(m interface{ Run() int }) int {
	if os.Getenv(GuestEnv) != "1" {
		fmt.Fprintf(os.Stderr, "FAIL: these tests need the kernel lab (run them through `make e2e`); %s is not set\n", GuestEnv)
		return 1
	}
	return m.Run()
}

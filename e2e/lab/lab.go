package lab

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
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// exitMarker is printed by the guest's init with run.sh's exit status.
const exitMarker = "IPVSD-LAB-EXIT="

// GuestEnv is set to "1" in the environment of everything run.sh starts, so
// guest-side tests can refuse to run anywhere else.
const GuestEnv = "IPVSD_LAB_GUEST"

// Binary is one executable to run in the guest.
type Binary struct {
	// Name is the file name under /lab/bin in the guest.
	Name string
	// HostPath is the file to copy in.
	HostPath string
	// Args are passed to it when it runs; nil for files that are only
	// shipped (bin/ipvsd, for instance, lands on PATH instead).
	Args []string
}

// Config describes one VM run.
type Config struct {
	// Run are executed in order; the run's status is the first non-zero
	// exit status, but every binary runs so one failure shows them all.
	Run []Binary
	// Tools are copied to /usr/local/bin in the guest (on PATH).
	Tools []Binary
	// Script, if set, replaces the generated run.sh body (after the
	// binaries are in place). It runs under busybox sh.
	Script string
	// Env is exported to everything run.sh starts.
	Env map[string]string
	// Timeout bounds the whole VM run; a hung guest is killed and the run
	// fails. Zero means 5 minutes.
	Timeout time.Duration
	// Network attaches a user-mode NIC: the guest gets 10.0.2.15/24 and
	// reaches the host's loopback at 10.0.2.2.
	Network bool
	// MemoryMB is the guest memory; zero means 2048.
	MemoryMB int
	// Files are data files (kubeconfigs, certificates) put in the guest
	// before run.sh starts.
	Files []File
	// Packaging renames the guest's iptables tools before anything runs;
	// zero keeps the base image's.
	Packaging Packaging
}

// File is one data file for the guest.
type File struct {
	// GuestPath is where it lands, absolute; missing parent directories
	// are created.
	GuestPath string
	// Data is the content; when nil, HostPath is copied in instead.
	Data     []byte
	HostPath string
	// Mode is the permission bits; zero means 0644.
	Mode os.FileMode
}

// Result is what a VM run reported.
type Result struct {
	// ExitCode is run.sh's exit status as printed by the guest, or -1 when
	// the guest never printed it (killed, crashed, timed out).
	ExitCode int
	// TimedOut is true when the VM was killed after Config.Timeout.
	TimedOut bool
	// SoftLockup is true when the VM was killed early because the guest
	// kernel reported a CPU stuck for lockupKill or longer.
	SoftLockup bool
	// Wall is the wall time of the whole VM run, boot included.
	Wall time.Duration
}

// Base is a built kernel lab: a kernel and a base initramfs.
type Base struct {
	Dir     string
	Kernel  string
	Initrd  string
	Version string
}

var (
	baseOnce sync.Once
	base     Base
	baseErr  error
)

// RepoRoot finds the module root (the directory holding go.mod) from the
// working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// CacheDir is where the base is kept: $IPVSD_LAB_CACHE or .cache/lab in the
// repository.
func CacheDir() (string, error) {
	if d := os.Getenv("IPVSD_LAB_CACHE"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "lab"), nil
}

// EnsureBase builds (or finds in the cache) the kernel and base initramfs,
// installing the Debian packages it needs on the way.
func EnsureBase() (Base, error) {
	baseOnce.Do(func() {
		base, baseErr = ensureBase()
	})
	return base, baseErr
}

func ensureBase() (Base, error) {
	root, err := RepoRoot()
	if err != nil {
		return Base{}, err
	}
	cache, err := CacheDir()
	if err != nil {
		return Base{}, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(root, "e2e", "lab", "build-base.sh"), cache)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Base{}, fmt.Errorf("building the lab base: %w\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	b := Base{Dir: dir, Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "base.cpio.gz")}
	if v, err := os.ReadFile(filepath.Join(dir, "kernel-version")); err == nil {
		b.Version = strings.TrimSpace(string(v))
	}
	return b, nil
}

// Boot runs one VM and streams the guest's console, cleaned of carriage
// returns and terminal escapes, line by line to out.
func Boot(ctx context.Context, cfg Config, out io.Writer) (Result, error) {
	res := Result{ExitCode: -1}
	b, err := EnsureBase()
	if err != nil {
		return res, err
	}
	work, err := os.MkdirTemp("", "ipvsd-lab-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)

	initrd := filepath.Join(work, "initrd.gz")
	if err := writeInitrd(b.Initrd, initrd, cfg); err != nil {
		return res, err
	}

	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	mem := cfg.MemoryMB
	if mem == 0 {
		mem = 2048
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	args := []string{
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(min(2, runtime.NumCPU())),
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", b.Kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1",
	}
	if cfg.Network {
		args = append(args, "-nic", "user,model=virtio-net-pci")
	} else {
		args = append(args, "-nic", "none")
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	cmd.Stderr = cmd.Stdout // one ordered stream
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting qemu: %w", err)
	}
	res.ExitCode = scanConsole(stdout, out, func() {
		res.SoftLockup = true
		cancel()
	})
	waitErr := cmd.Wait()
	res.Wall = time.Since(start)
	if res.SoftLockup {
		res.ExitCode = -1
		return res, fmt.Errorf("lab VM killed: the guest kernel reported a CPU stuck for %s or more (soft lockup; trace above)", lockupKill)
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.TimedOut = true
		res.ExitCode = -1
		return res, fmt.Errorf("lab VM killed after %s", timeout)
	}
	if res.ExitCode < 0 {
		return res, fmt.Errorf("lab VM ended without an exit marker (qemu: %v)", waitErr)
	}
	return res, nil
}

var escapes = regexp.MustCompile(`\x1b(\[[0-9;?]*[a-zA-Z]|[()][0-9A-Za-z]|[=>c])`)

// lockupKill is how long a guest CPU may be reported stuck before the VM
// is killed. Under emulation on a loaded host a vCPU can stall for a
// while and recover; a minute in the kernel without scheduling has never
// recovered in this lab (seen once: the reports climbed from 45 s to 186 s
// until the test's timeout), so waiting longer only delays the failure.
const lockupKill = 60 * time.Second

var softLockup = regexp.MustCompile(`soft lockup - CPU#\d+ stuck for (\d+)s`)

// scanConsole copies console lines to out and returns the status carried by
// the exit marker, or -1 if none was seen. It calls lockedUp once when the
// guest kernel reports a CPU stuck for lockupKill or longer, and keeps
// copying (the traces that follow the report are the useful part).
func scanConsole(r io.Reader, out io.Writer, lockedUp func()) int {
	code := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	reported := false
	for sc.Scan() {
		line := escapes.ReplaceAllString(strings.ReplaceAll(sc.Text(), "\r", ""), "")
		if i := strings.Index(line, exitMarker); i >= 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(line[i+len(exitMarker):])); err == nil {
				code = n
			}
		}
		if m := softLockup.FindStringSubmatch(line); m != nil && !reported {
			if secs, err := strconv.Atoi(m[1]); err == nil && time.Duration(secs)*time.Second >= lockupKill {
				reported = true
				lockedUp()
			}
		}
		fmt.Fprintln(out, line)
	}
	// Drain anything left so qemu never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
	return code
}

// writeInitrd writes base followed by a second gzip'd cpio archive with the
// run's binaries and /lab/run.sh.
func writeInitrd(basePath, dst string, cfg Config) error {
	if _, ok := packagings[cfg.Packaging]; !ok {
		return fmt.Errorf("unknown lab packaging %q", cfg.Packaging)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	bf, err := os.Open(basePath)
	if err != nil {
		return err
	}
	defer bf.Close()
	if _, err := io.Copy(f, bf); err != nil {
		return err
	}
	a := newArchive(f)
	for _, dir := range []string{"lab", "lab/bin", "usr", "usr/local", "usr/local/bin"} {
		a.dir(dir)
	}
	for _, b := range cfg.Run {
		if err := a.fileFrom("lab/bin/"+b.Name, b.HostPath, 0o755); err != nil {
			return err
		}
	}
	for _, b := range cfg.Tools {
		if err := a.fileFrom("usr/local/bin/"+b.Name, b.HostPath, 0o755); err != nil {
			return err
		}
	}
	if err := addFiles(a, cfg.Files); err != nil {
		return err
	}
	a.file("lab/run.sh", []byte(runScript(cfg)), 0o755)
	return a.close()
}

// addFiles adds cfg.Files with their parent directories. A directory the
// base archive already has is harmless: the kernel keeps the existing one.
func addFiles(a *archive, files []File) error {
	made := map[string]bool{}
	for _, f := range files {
		name := strings.TrimPrefix(filepath.Clean(f.GuestPath), "/")
		if !filepath.IsAbs(f.GuestPath) || name == "" || name == "." {
			return fmt.Errorf("lab file %q: the guest path must be absolute", f.GuestPath)
		}
		var parents []string
		for d := filepath.Dir(name); d != "." && !made[d]; d = filepath.Dir(d) {
			parents = append(parents, d)
			made[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			a.dir(parents[i])
		}
		mode := uint32(f.Mode.Perm())
		if mode == 0 {
			mode = 0o644
		}
		if f.Data == nil {
			if err := a.fileFrom(name, f.HostPath, mode); err != nil {
				return err
			}
			continue
		}
		a.file(name, f.Data, mode)
	}
	return a.err
}

// runScript renders /lab/run.sh: export the environment, run each binary
// from /lab, remember the first failure, exit with it.
func runScript(cfg Config) string {
	var s strings.Builder
	s.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&s, "export %s=1 PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", GuestEnv)
	// The base init keeps the console to emergencies during boot. From here
	// on warnings reach it too, and with them the stack traces a kernel
	// BUG or soft lockup prints at the default level: without them a hung
	// guest says only which process was stuck, not where. A soft lockup
	// also traces every CPU, so the holder of a lock shows as well.
	s.WriteString("echo 5 >/proc/sys/kernel/printk\n")
	s.WriteString("echo 1 >/proc/sys/kernel/softlockup_all_cpu_backtrace 2>/dev/null\n")
	s.WriteString(packagingScript(cfg.Packaging))
	keys := make([]string, 0, len(cfg.Env))
	for k := range cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&s, "export %s=%s\n", k, shellQuote(cfg.Env[k]))
	}
	s.WriteString("cd /lab/bin\nstatus=0\n")
	if cfg.Script != "" {
		s.WriteString(cfg.Script)
		s.WriteString("\nexit $?\n")
		return s.String()
	}
	for _, b := range cfg.Run {
		q := []string{shellQuote("/lab/bin/" + b.Name)}
		for _, a := range b.Args {
			q = append(q, shellQuote(a))
		}
		fmt.Fprintf(&s, "echo '=== lab: running %s'\n", b.Name)
		fmt.Fprintf(&s, "%s\nrc=$?\n", strings.Join(q, " "))
		fmt.Fprintf(&s, "echo \"=== lab: %s exited $rc\"\n", b.Name)
		s.WriteString("[ $status -eq 0 ] && status=$rc\n")
	}
	s.WriteString("exit $status\n")
	return s.String()
}

func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

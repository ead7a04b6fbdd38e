package kernelsettings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// Settings are what to keep set.
type Settings struct {
	// Sysctls are written where they differ.
	Sysctls []netlinkutil.Sysctl
	// ConntrackHashsize, when non-zero, is the least size of conntrack's
	// hash table: it is raised to it, never lowered, as kube-proxy does
	// (a larger table costs memory only).
	ConntrackHashsize int
	// IPVS are the IPVS timeouts; zero fields are left as they are.
	IPVS ipvs.Timeouts
}

// Deps are where the settings live.
type Deps struct {
	// ProcSys is the sysctl root (netlinkutil.ProcSys).
	ProcSys string
	// SysModule is the module parameter root, normally /sys/module.
	SysModule string
	// IPVS reads and writes the IPVS timeouts; nil skips them.
	IPVS ipvs.TimeoutConfig
	Log  *zap.Logger
}

// Tuner applies Settings.
type Tuner struct {
	s Settings
	d Deps
}

// New returns a Tuner for s.
func New(s Settings, d Deps) *Tuner {
	if d.ProcSys == "" {
		d.ProcSys = netlinkutil.ProcSys
	}
	if d.SysModule == "" {
		d.SysModule = "/sys/module"
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	return &Tuner{s: s, d: d}
}

// ErrReadOnlySysfs is returned (joined) when conntrack's hash table must
// grow but /sys is mounted read-only, as some container runtimes do: the
// table limit is set all the same, lookups are only slower.
var ErrReadOnlySysfs = errors.New("/sys is read-only: conntrack's hash table keeps its size")

// Ensure sets every setting that differs and returns, joined, what it
// could not set; it tries them all.
func (t *Tuner) Ensure() error {
	_, err := netlinkutil.EnsureSysctls(t.d.Log, t.d.ProcSys, t.s.Sysctls)
	return errors.Join(err, t.ensureHashsize(), t.ensureIPVS())
}

func (t *Tuner) ensureHashsize() error {
	if t.s.ConntrackHashsize <= 0 {
		return nil
	}
	path := filepath.Join(t.d.SysModule, "nf_conntrack", "parameters", "hashsize")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("conntrack hash table size: %w", err)
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("conntrack hash table size %s: %w", path, err)
	}
	if cur >= t.s.ConntrackHashsize {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		_, err = f.WriteString(strconv.Itoa(t.s.ConntrackHashsize))
		err = errors.Join(err, f.Close())
	}
	if errors.Is(err, syscall.EROFS) {
		return ErrReadOnlySysfs
	}
	if err != nil {
		return fmt.Errorf("conntrack hash table size %d: %w", t.s.ConntrackHashsize, err)
	}
	t.d.Log.Info("changed conntrack hash table size", zap.Int("old", cur), zap.Int("new", t.s.ConntrackHashsize))
	return nil
}

func (t *Tuner) ensureIPVS() error {
	if t.d.IPVS == nil || t.s.IPVS == (ipvs.Timeouts{}) {
		return nil
	}
	cur, err := t.d.IPVS.Timeouts()
	if err != nil {
		return err
	}
	want := cur.Merge(t.s.IPVS)
	if want == cur {
		return nil
	}
	if err := t.d.IPVS.SetTimeouts(t.s.IPVS); err != nil {
		return err
	}
	t.d.Log.Info("changed IPVS timeouts", zap.Stringer("old", cur), zap.Stringer("new", want))
	return nil
}

// OnlineCPUs counts the node's online CPUs from sysfs (a list such as
// "0-3,6"), not the CPUs this process may run on: the conntrack table is
// the node's, and a proxy pinned to one CPU must size it for all of them.
// It falls back to runtime.NumCPU when the file cannot be read.
func OnlineCPUs(sysfsOnline string) int {
	b, err := os.ReadFile(sysfsOnline)
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		c := a
		var err2 error
		if found {
			c, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || c < a {
			return runtime.NumCPU()
		}
		n += c - a + 1
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

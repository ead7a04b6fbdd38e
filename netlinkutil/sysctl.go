package netlinkutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// ProcSys is where the kernel publishes sysctls.
const ProcSys = "/proc/sys"

// Sysctl is a sysctl's dotted name and a value.
type Sysctl struct {
	Name  string
	Value string
}

// SysctlChange records one value Ensure rewrote.
type SysctlChange struct {
	Name, Old, New string
}

// IPVSSysctls are the sysctls IPVS needs on a node, for a kernel of version
// v:
//   - net.ipv4.vs.conntrack=1 keeps conntrack entries for IPVS connections,
//     which masquerading and iptables' state matches rely on;
//   - net.ipv4.vs.expire_nodest_conn=1 drops a connection's entry as soon as
//     a packet arrives for a real server that was removed, instead of
//     black-holing the client until the entry times out;
//   - net.ipv4.vs.expire_quiescent_template=1 does the same for persistence
//     templates pointing at a server whose weight went to 0;
//   - net.ipv4.vs.conn_reuse_mode: see ConnReuseMode;
//   - net.ipv4.ip_forward=1, since real servers are reached by routing.
func IPVSSysctls(v KernelVersion) []Sysctl {
	return []Sysctl{
		{"net.ipv4.vs.conntrack", "1"},
		{"net.ipv4.vs.expire_nodest_conn", "1"},
		{"net.ipv4.vs.expire_quiescent_template", "1"},
		{"net.ipv4.vs.conn_reuse_mode", ConnReuseMode(v)},
		{"net.ipv4.ip_forward", "1"},
	}
}

// SysctlPath is the file under root (normally ProcSys) holding sysctl name.
func SysctlPath(root, name string) string {
	return filepath.Join(root, filepath.FromSlash(strings.ReplaceAll(name, ".", "/")))
}

// ReadSysctl returns a sysctl's value without the trailing newline.
func ReadSysctl(root, name string) (string, error) {
	b, err := os.ReadFile(SysctlPath(root, name))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteSysctl sets a sysctl. It never creates the file: a sysctl that does
// not exist (ip_vs not loaded, say) is an error, not a new file.
func WriteSysctl(root, name, value string) error {
	f, err := os.OpenFile(SysctlPath(root, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("writing sysctl %s: %w", name, err)
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("writing sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// EnsureSysctls writes each sysctl whose value differs from want, logs every
// change, and returns the changes made. It tries them all; the error joins
// one error per sysctl it could not read or write.
func EnsureSysctls(log *zap.Logger, root string, want []Sysctl) ([]SysctlChange, error) {
	var changes []SysctlChange
	var errs []error
	for _, s := range want {
		old, err := ReadSysctl(root, s.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if old == s.Value {
			continue
		}
		if err := WriteSysctl(root, s.Name, s.Value); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("changed sysctl", zap.String("name", s.Name), zap.String("old", old), zap.String("new", s.Value))
		changes = append(changes, SysctlChange{Name: s.Name, Old: old, New: s.Value})
	}
	return changes, errors.Join(errs...)
}

// EnsureIPVSSysctls applies IPVSSysctls for the kernel named by release
// (uname -r; see KernelRelease) under root (normally ProcSys). A release it
// cannot parse is an error, and conn_reuse_mode is then left alone, but the
// other sysctls are still applied.
func EnsureIPVSSysctls(log *zap.Logger, root, release string) ([]SysctlChange, error) {
	v, verr := ParseKernelRelease(release)
	want := IPVSSysctls(v)
	if verr != nil {
		want = slices.DeleteFunc(want, func(s Sysctl) bool { return s.Name == "net.ipv4.vs.conn_reuse_mode" })
		verr = fmt.Errorf("choosing net.ipv4.vs.conn_reuse_mode: %w", verr)
	}
	changes, err := EnsureSysctls(log, root, want)
	return changes, errors.Join(verr, err)
}

package firewall

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Exec finds and runs programs. The host's ($PATH and os/exec) is what New
// uses; unit tests pass a table of installed names and their output.
type Exec interface {
	// LookPath resolves a program name as exec.LookPath does.
	LookPath(name string) (string, error)
	// Run executes path with stdin and returns its standard output.
	Run(ctx context.Context, stdin, path string, args ...string) (string, error)
}

// HostExec is the host's $PATH and os/exec.
type HostExec struct{}

func (HostExec) LookPath(name string) (string, error) { return exec.LookPath(name) }

func (HostExec) Run(ctx context.Context, stdin, path string, args ...string) (string, error) {
	return run(ctx, stdin, path, args...)
}

// ErrNotInstalled is wrapped by FindBinaries when a back-end has no tools
// of a family under any name: it cannot hold rules of that family that we
// could read or write.
var ErrNotInstalled = errors.New("not installed")

// Binaries are one back-end's tools of one family under the names this
// host has installed.
type Binaries struct {
	Mode   Mode
	Family ipvs.Family
	// IPTables, Save and Restore are the paths of iptables,
	// iptables-save and iptables-restore (ip6tables* for IPv6).
	IPTables, Save, Restore string
	// Plain is true when they are the unsuffixed names, which
	// `iptables --version` identified as this back-end.
	Plain bool
}

// toolName is the name of one tool: iptables-nft-save, ip6tables-legacy,
// or with suffix "" the plain iptables-save, ip6tables, ...
func toolName(f ipvs.Family, suffix, tool string) string {
	name := "iptables"
	if f == ipvs.IPv6 {
		name = "ip6tables"
	}
	if suffix != "" {
		name += "-" + suffix
	}
	if tool != "" {
		name += "-" + tool
	}
	return name
}

// FindBinaries resolves back-end m's tools of family f. The suffixed names
// (iptables-nft, iptables-nft-save, iptables-nft-restore) say what they
// are and win. Without them, the plain names are used if each says, in
// its --version, that it is m: Alpine and many container images install
// only the plain names of their default back-end, and Debian points them
// at one back-end through alternatives. Mixing one back-end's save with the
// other's restore would read rules where they are not written, so all
// three must agree.
func FindBinaries(ctx context.Context, x Exec, m Mode, f ipvs.Family) (Binaries, error) {
	b, errSuffixed := lookBinaries(x, m, f, string(m))
	if errSuffixed == nil {
		return b, nil
	}
	b, err := lookBinaries(x, m, f, "")
	if err != nil {
		return Binaries{}, fmt.Errorf("iptables %s %s: %w (%w; %w)", m, f, ErrNotInstalled, errSuffixed, err)
	}
	b.Plain = true
	for _, path := range []string{b.IPTables, b.Save, b.Restore} {
		pm, err := identify(ctx, x, path)
		if err != nil {
			return Binaries{}, fmt.Errorf("iptables %s %s: %w", m, f, err)
		}
		if pm != m {
			return Binaries{}, fmt.Errorf("iptables %s %s: %w (%v, and %s is %s)", m, f, ErrNotInstalled, errSuffixed, path, pm)
		}
	}
	return b, nil
}

// lookBinaries finds the three tools with the given suffix ("" for the
// plain names). The error names every one missing, on one line (it ends
// up in log fields).
func lookBinaries(x Exec, m Mode, f ipvs.Family, suffix string) (Binaries, error) {
	b := Binaries{Mode: m, Family: f}
	var missing []string
	var errs []error
	for _, t := range []struct {
		tool string
		path *string
	}{{"", &b.IPTables}, {"save", &b.Save}, {"restore", &b.Restore}} {
		name := toolName(f, suffix, t.tool)
		p, err := x.LookPath(name)
		switch {
		case errors.Is(err, exec.ErrNotFound):
			missing = append(missing, name)
		case err != nil:
			errs = append(errs, err)
		default:
			*t.path = p
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%s: %w", strings.Join(missing, ", "), exec.ErrNotFound))
	}
	return b, errors.Join(errs...)
}

// versionMode matches the back-end iptables 1.8 and later print after the
// version: "iptables v1.8.9 (nf_tables)", "iptables-save v1.8.9 (legacy)".
var versionMode = regexp.MustCompile(`\bv\d+\.\d+(?:\.\d+)?(?:\s+\((\w+)\))?`)

// identify asks an iptables tool which back-end it drives.
func identify(ctx context.Context, x Exec, path string) (Mode, error) {
	out, err := x.Run(ctx, "", path, "--version")
	if err != nil {
		return "", fmt.Errorf("identifying %s: %w", path, err)
	}
	return parseVersionMode(path, out)
}

// parseVersionMode reads --version output. Before 1.8 there was only the
// x_tables back-end and no mode was printed (go-iptables reads it the same
// way).
func parseVersionMode(path, out string) (Mode, error) {
	mm := versionMode.FindStringSubmatch(out)
	if mm == nil {
		return "", fmt.Errorf("identifying %s: no version in %q", path, out)
	}
	switch mm[1] {
	case "nf_tables":
		return ModeNFT, nil
	case "", "legacy":
		return ModeLegacy, nil
	}
	return "", fmt.Errorf("identifying %s: unknown back-end %q", path, mm[1])
}

package firewalltest

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"sync"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Exec is a fake firewall.Exec: the programs installed on a host, by name,
// each a link to one back-end's multi-call binary as Debian's and Alpine's
// iptables packages install them. A name that is not installed fails
// LookPath with exec.ErrNotFound, as on the host. Run answers --version as
// iptables 1.8.9 of that back-end does, and any other invocation of a save
// tool with the back-end's ruleset; every run is recorded, so a test can
// tell which names were executed.
type Exec struct {
	mu       sync.Mutex
	programs map[string]firewall.Mode
	rules    map[firewall.Mode]string
	ran      []string
}

// Packaging is a host's iptables as installed: the plain names (iptables,
// iptables-save, ip6tables-restore, ...) pointing at back-end Plain ("" for
// none), and the suffixed names (iptables-nft-save, ...) of each back-end
// in Suffixed.
type Packaging struct {
	Plain    firewall.Mode
	Suffixed []firewall.Mode
}

// NewExec installs p's names; rules[m] is what back-end m's save tools
// print (in both families).
func NewExec(p Packaging, rules map[firewall.Mode]string) *Exec {
	x := &Exec{programs: map[string]firewall.Mode{}, rules: rules}
	install := func(suffix string, m firewall.Mode) {
		for _, f := range []string{"iptables", "ip6tables"} {
			for _, tool := range []string{"", "-save", "-restore"} {
				x.programs[f+suffix+tool] = m
			}
		}
	}
	if p.Plain != "" {
		install("", p.Plain)
	}
	for _, m := range p.Suffixed {
		install("-"+string(m), m)
	}
	return x
}

// LookPath finds an installed name under /usr/sbin.
func (x *Exec) LookPath(name string) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.programs[name]; !ok {
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	return "/usr/sbin/" + name, nil
}

// Run executes an installed program: --version, or a save tool's listing.
func (x *Exec) Run(_ context.Context, stdin, p string, args ...string) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	name := path.Base(p)
	m, ok := x.programs[name]
	if !ok || p != "/usr/sbin/"+name {
		return "", &exec.Error{Name: p, Err: exec.ErrNotFound}
	}
	x.ran = append(x.ran, strings.Join(append([]string{p}, args...), " "))
	switch {
	case len(args) == 1 && args[0] == "--version":
		mode := "nf_tables"
		if m == firewall.ModeLegacy {
			mode = "legacy"
		}
		// xtables prints the plain tool name whatever it was called.
		tool := strings.NewReplacer("-nft", "", "-legacy", "").Replace(name)
		return fmt.Sprintf("%s v1.8.9 (%s)\n", tool, mode), nil
	case strings.HasSuffix(name, "-save"):
		return x.rules[m], nil
	}
	return "", fmt.Errorf("%s %s: the fake runs only --version and save tools", p, strings.Join(args, " "))
}

// Ran is every command run so far, path and arguments.
func (x *Exec) Ran() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.ran...)
}

// SaveTool is the path the fake gives the save tool of family f under
// suffix ("" for the plain name).
func SaveTool(f ipvs.Family, suffix string) string {
	name := "iptables"
	if f == ipvs.IPv6 {
		name = "ip6tables"
	}
	if suffix != "" {
		name += "-" + suffix
	}
	return "/usr/sbin/" + name + "-save"
}

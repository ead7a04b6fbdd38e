package firewall

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// IPSet is the ipset(8) binary driven in batches: every call is one
// process however many sets or entries it covers. We do not use the
// netlink library's ipset support: it logs every attribute it does not
// know (bucketsize, initval on current kernels) through the standard
// logger, and sends one request per entry.
type IPSet interface {
	// Names lists every set in the namespace, ours and foreign.
	Names(ctx context.Context) ([]string, error)
	// Save prints the named sets in `ipset save` format.
	Save(ctx context.Context, names []string) (string, error)
	// Restore runs an `ipset restore -exist` script.
	Restore(ctx context.Context, script string) error
}

type ipsetBinary struct{ path string }

func (b ipsetBinary) Names(ctx context.Context) ([]string, error) {
	out, err := run(ctx, "", b.path, "list", "-n")
	if err != nil {
		return nil, fmt.Errorf("listing ipsets: %w", err)
	}
	return strings.Fields(out), nil
}

func (b ipsetBinary) Save(ctx context.Context, names []string) (string, error) {
	if len(names) == 0 {
		return "", nil
	}
	// `ipset save` takes one name; in restore mode any number of list
	// commands share one process.
	var script strings.Builder
	for _, n := range names {
		script.WriteString("list " + n + " -o save\n")
	}
	out, err := run(ctx, script.String(), b.path, "restore")
	if err != nil {
		return "", fmt.Errorf("saving ipsets %s: %w", strings.Join(names, ","), err)
	}
	return out, nil
}

func (b ipsetBinary) Restore(ctx context.Context, script string) error {
	// -exist: adding a present entry or deleting an absent one is not an
	// error, so a concurrent change by hand does not abort the batch.
	if _, err := run(ctx, script, b.path, "restore", "-exist"); err != nil {
		return fmt.Errorf("restoring ipsets: %w", err)
	}
	return nil
}

// actualSet is one set as `ipset save` printed it.
type actualSet struct {
	Type    SetType
	Family  ipvs.Family
	SkbInfo bool
	// Entries maps each element to its extensions, both as printed
	// (Entry.String and Entry.Extensions).
	Entries map[string]string
}

// parseIPSetSave reads `ipset save` output: "create NAME TYPE family inet
// ... [skbinfo] ..." then "add NAME ELEMENT [EXTENSIONS]" lines. Entries
// stay strings: we print ours in the same format (Entry.String,
// Entry.Extensions), so the diff is string equality.
func parseIPSetSave(text string) (map[string]*actualSet, error) {
	sets := map[string]*actualSet{}
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "create" && len(f) >= 3:
			s := &actualSet{Type: SetType(f[2]), Family: ipvs.IPv4, Entries: map[string]string{}}
			for j := 3; j < len(f); j++ {
				if f[j] == "family" && j+1 < len(f) && f[j+1] == "inet6" {
					s.Family = ipvs.IPv6
				}
				if f[j] == "skbinfo" {
					s.SkbInfo = true
				}
			}
			sets[f[1]] = s
		case f[0] == "add" && len(f) >= 3:
			s, ok := sets[f[1]]
			if !ok {
				return nil, fmt.Errorf("ipset save line %d: entry for undeclared set %s", i+1, f[1])
			}
			ext := ""
			if len(f) > 3 {
				ext = " " + strings.Join(f[3:], " ")
			}
			s.Entries[f[2]] = ext
		}
	}
	return sets, nil
}

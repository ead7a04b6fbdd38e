package firewall

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

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

type ipsetBinary struct {
	path string
	// saved is the length of the last save, the room made for the next.
	saved *atomic.Int64
}

func newIPSetBinary(path string) ipsetBinary { return ipsetBinary{path, new(atomic.Int64)} }

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
	last := int(b.saved.Load())
	out, err := runSized(ctx, script.String(), last+last/8, b.path, "restore")
	if err != nil {
		return "", fmt.Errorf("saving ipsets %s: %w", strings.Join(names, ","), err)
	}
	b.saved.Store(int64(len(out)))
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
	for i := 1; text != ""; i++ {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		verb, rest := nextField(line)
		name, rest := nextField(rest)
		elem, rest := nextField(rest)
		switch {
		case verb == "create" && elem != "":
			// ipset save lists a set's entries after its create line, one a
			// line: the map is made for as many lines as come before the
			// next set, not grown as they are read.
			n := strings.Index(text, "\ncreate ")
			if n < 0 {
				n = len(text)
			}
			s := &actualSet{Type: SetType(elem), Family: ipvs.IPv4, Entries: make(map[string]string, strings.Count(text[:n], "\n")+1)}
			prev := ""
			for f := range strings.FieldsSeq(rest) {
				if prev == "family" && f == "inet6" {
					s.Family = ipvs.IPv6
				}
				if f == "skbinfo" {
					s.SkbInfo = true
				}
				prev = f
			}
			sets[name] = s
		case verb == "add" && elem != "":
			s, ok := sets[name]
			if !ok {
				return nil, fmt.Errorf("ipset save line %d: entry for undeclared set %s", i, name)
			}
			s.Entries[elem] = saveExtensions(rest)
		}
	}
	return sets, nil
}

// nextField is the first whitespace-separated field of s and what follows
// it, without allocating: the entries stay substrings of the saved text.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t\r")
	if i := strings.IndexAny(s, " \t\r"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// saveExtensions is rest (what follows an add line's element) as
// Entry.Extensions prints it: "" or its fields each after one space.
// ipset save prints them so, and the text is then used as it is.
func saveExtensions(rest string) string {
	t := strings.TrimRight(rest, " \t\r")
	if t == "" {
		return ""
	}
	if t[0] == ' ' && !strings.Contains(t, "  ") && !strings.ContainsAny(t, "\t\r") {
		return t
	}
	return " " + strings.Join(strings.Fields(t), " ")
}

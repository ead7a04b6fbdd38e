package firewalltest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Host is an in-memory network namespace for the firewall's unit tests:
// the nat, filter, mangle and raw tables of both iptables back-ends in both
// families, and the ipsets. It understands the part of iptables-save,
// iptables-restore and ipset restore that Firewall emits (and the
// Calico-like fixture), and refuses input where the tools do: a rule
// jumping to a missing chain or matching a missing set, deleting a
// referenced or non-empty chain, an entry the set's type cannot hold,
// creating an existing set or adding an existing entry without -exist,
// destroying a set a rule references. Those errors wrap the errno the
// kernel returns (unix.ENOENT, EEXIST, EBUSY, ...) in a *LineError.
//
// The two tools share one set namespace, as in the kernel. A restore
// applies its lines in order: an iptables table changes at its COMMIT only
// (a failure leaves it as it was, and earlier tables committed), an ipset
// script keeps the lines before the one that failed (ipset itself also
// drops the add it buffered just before a line naming a missing set; the
// fake keeps it). Rules are stored as
// their whitespace-separated words, so rendered text must already be in
// iptables-save's canonical form; the conformance test in hosttest keeps
// that and the rest of the fake honest against the real tools.
//
// A Host is safe for concurrent use.
type Host struct {
	mu     sync.Mutex
	tables map[tableKey]*table
	// sets are in kernel index order; a destroyed set leaves a nil slot
	// that the next create takes, as ip_set_create does.
	sets   []*ipset
	faults []fault
}

type tableKey struct {
	mode   firewall.Mode
	family ipvs.Family
	name   string
}

type fault struct {
	substr string
	err    error
}

// NewHost is an empty namespace: every table holds only its built-in
// chains, with an ACCEPT policy, and there are no sets.
func NewHost() *Host {
	return &Host{tables: map[tableKey]*table{}}
}

// LineError is a restore refused at one line, which ipset and
// iptables-restore report by number.
type LineError struct {
	Tool string // "iptables-restore", "ip6tables-restore" or "ipset"
	Line int
	Text string
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s: line %d %q: %v", e.Tool, e.Line, e.Text, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// errorf is an error wrapping errno, worded like the tool's complaint.
func errorf(errno error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errno)
}

// FailLine makes the next restore line, of either tool, that contains
// substr fail with err, once: the tool dies there, as on a kernel error
// (ENOMEM, a concurrent change) the fake does not otherwise model.
func (h *Host) FailLine(substr string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, fault{substr, err})
}

// injected returns, and forgets, the fault set for line. h.mu is held.
func (h *Host) injected(line string) error {
	for i, f := range h.faults {
		if strings.Contains(line, f.substr) {
			h.faults = append(h.faults[:i], h.faults[i+1:]...)
			return f.err
		}
	}
	return nil
}

// Tools are the Host's tools for a Firewall of back-end m in both
// families, with --random-fully available (as with iptables >= 1.6.2).
func (h *Host) Tools(m firewall.Mode) firewall.Tools {
	t := firewall.Tools{IPTables: map[ipvs.Family]firewall.IPTables{}, Options: map[ipvs.Family]firewall.RenderOptions{}, IPSet: h.IPSet()}
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		t.IPTables[f] = h.IPTables(m, f)
		t.Options[f] = firewall.RenderOptions{RandomFully: true}
	}
	return t
}

// SaveAll is what the package's SaveAll prints for a real namespace: the
// nat, filter and mangle tables of one back-end and family, without
// comments.
func (h *Host) SaveAll(m firewall.Mode, f ipvs.Family) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, name := range []string{"nat", "filter", "mangle"} {
		h.table(m, f, name).save(&b, name)
	}
	return b.String()
}

// CleanupTools are the Host's tools for firewall.CleanupHost: back-ends in
// installed have tools of both families, the others are not installed;
// with ipsetErr set, finding ipset fails with it (ipset not installed).
func (h *Host) CleanupTools(ipsetErr error, installed ...firewall.Mode) firewall.CleanupTools {
	return firewall.CleanupTools{
		IPTables: func(_ context.Context, m firewall.Mode, f ipvs.Family) (firewall.IPTables, error) {
			if !slices.Contains(installed, m) {
				return nil, fmt.Errorf("iptables %s %s: %w", m, f, firewall.ErrNotInstalled)
			}
			return h.IPTables(m, f), nil
		},
		IPSet: func(context.Context) (firewall.IPSet, error) {
			if ipsetErr != nil {
				return nil, fmt.Errorf("finding ipset: %w", ipsetErr)
			}
			return h.IPSet(), nil
		},
	}
}

package firewall

import (
	"slices"
	"strings"
)

// tableState is what iptables-save shows of ours in one table.
type tableState struct {
	// Chains maps each IPVSD- chain to its rules (the text after
	// "-A <chain> ").
	Chains map[string][]string
	// Jumps counts our jump rules per "<from> -> <to>".
	Jumps map[Jump]int
}

// IsOurLine reports whether a line of iptables-save output is ours: one of
// our chains' declaration or rules, or our unconditional jump into one.
// Tests strip these to prove everyone else's lines are untouched.
func IsOurLine(line string) bool {
	if strings.HasPrefix(line, ":"+ChainPrefix) || strings.HasPrefix(line, "-A "+ChainPrefix) {
		return true
	}
	_, ok := parseJump(line)
	return ok
}

// parseJump recognises "-A <built-in> -j IPVSD-X" exactly. A rule with
// conditions that happens to jump into our chains is someone else's.
func parseJump(line string) (Jump, bool) {
	f := strings.Fields(line)
	if len(f) == 4 && f[0] == "-A" && !strings.HasPrefix(f[1], ChainPrefix) && f[2] == "-j" && strings.HasPrefix(f[3], ChainPrefix) {
		return Jump{From: f[1], To: f[3]}, true
	}
	return Jump{}, false
}

// parseTable extracts our part of one table from iptables-save -t output.
func parseTable(save string) tableState {
	st := tableState{Chains: map[string][]string{}, Jumps: map[Jump]int{}}
	for _, line := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(line, ":"+ChainPrefix):
			name, _, _ := strings.Cut(line[1:], " ")
			if _, ok := st.Chains[name]; !ok {
				st.Chains[name] = nil
			}
		case strings.HasPrefix(line, "-A "+ChainPrefix):
			name, rule, _ := strings.Cut(line[3:], " ")
			st.Chains[name] = append(st.Chains[name], rule)
		default:
			if j, ok := parseJump(line); ok {
				st.Jumps[j]++
			}
		}
	}
	return st
}

// tablePlan is what a table needs: whether our chains must be rewritten,
// which jumps are missing, and which chains of ours are no longer wanted.
type tablePlan struct {
	Rewrite bool
	Missing []Jump
	Stale   []string
	// StaleJumps are jumps of ours into chains we no longer want (left
	// by an older version); they must go before those chains can.
	StaleJumps []Jump
}

func (p tablePlan) empty() bool {
	return !p.Rewrite && len(p.Missing) == 0 && len(p.Stale) == 0 && len(p.StaleJumps) == 0
}

// planTable compares the desired table with what the kernel shows. It is
// pure and cheap, which is what makes periodic re-assertion cheap: nothing
// is written unless a rule of ours differs or a jump is gone.
func planTable(t *Table, st tableState) tablePlan {
	var p tablePlan
	want := map[string]bool{}
	for _, c := range t.Chains {
		want[c.Name] = true
		rules, ok := st.Chains[c.Name]
		if !ok || !slices.Equal(rules, c.Rules) {
			p.Rewrite = true
		}
	}
	for name := range st.Chains {
		if !want[name] {
			p.Stale = append(p.Stale, name)
		}
	}
	slices.Sort(p.Stale)
	for _, j := range t.Jumps {
		if st.Jumps[j] == 0 {
			p.Missing = append(p.Missing, j)
		}
	}
	for _, j := range sortedJumps(st.Jumps) {
		if !want[j.To] {
			for range st.Jumps[j] {
				p.StaleJumps = append(p.StaleJumps, j)
			}
		}
	}
	if len(p.Stale) > 0 {
		// A stale chain may still be referenced by one of ours; the
		// rewrite in the same transaction drops that reference first.
		p.Rewrite = true
	}
	return p
}

// chains are the chains the plan writes to: ours when rewritten, the
// built-in ones of missing jumps, stale ones.
func (p tablePlan) chains(t *Table) []string {
	var out []string
	if p.Rewrite {
		for _, c := range t.Chains {
			out = append(out, c.Name)
		}
	}
	for _, j := range p.Missing {
		out = append(out, j.From)
	}
	for _, j := range p.StaleJumps {
		out = append(out, j.From)
	}
	out = append(out, p.Stale...)
	slices.Sort(out)
	return slices.Compact(out)
}

// restoreText renders a plan as iptables-restore --noflush input.
func (p tablePlan) restoreText(t *Table) string {
	text := t.restoreText(p.Missing)
	if len(p.Stale) == 0 && len(p.StaleJumps) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(text, "COMMIT\n"))
	for _, j := range p.StaleJumps {
		b.WriteString("-D " + j.From + " -j " + j.To + "\n")
	}
	for _, name := range p.Stale {
		b.WriteString("-F " + name + "\n")
	}
	for _, name := range p.Stale {
		b.WriteString("-X " + name + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// cleanupText removes everything of ours from a table: our jumps (every
// copy), then our chains, flushed before deletion because they reference
// one another. Empty when nothing of ours is there.
func cleanupText(table string, st tableState) string {
	if len(st.Chains) == 0 && len(st.Jumps) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("*" + table + "\n")
	for _, j := range sortedJumps(st.Jumps) {
		for range st.Jumps[j] {
			b.WriteString("-D " + j.From + " -j " + j.To + "\n")
		}
	}
	names := make([]string, 0, len(st.Chains))
	for name := range st.Chains {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, n := range names {
		b.WriteString("-F " + n + "\n")
	}
	for _, n := range names {
		b.WriteString("-X " + n + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

func sortedJumps(m map[Jump]int) []Jump {
	jumps := make([]Jump, 0, len(m))
	for j := range m {
		jumps = append(jumps, j)
	}
	slices.SortFunc(jumps, func(a, b Jump) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	return jumps
}

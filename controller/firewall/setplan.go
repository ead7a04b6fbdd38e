package firewall

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// setMaxElem bounds each set. The kernel allocates on demand, so a high
// limit costs nothing; the default (65536) is too low for node ports
// times node-port CIDRs on a large cluster.
const setMaxElem = 1 << 20

// setOp is one add or del line.
type setOp struct {
	Set, Entry string
}

// setPlan is what it takes to turn the actual sets into the desired ones.
type setPlan struct {
	Create []SetSpec
	Add    []setOp
	Del    []setOp
}

// Changed is the number of entries the plan adds or deletes.
func (p setPlan) Changed() int { return len(p.Add) + len(p.Del) }

// names are the sets the plan touches, each once, in plan order.
func (p setPlan) names() []string {
	var out []string
	seen := map[string]bool{}
	note := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, s := range p.Create {
		note(s.Name)
	}
	for _, op := range p.Add {
		note(op.Set)
	}
	for _, op := range p.Del {
		note(op.Set)
	}
	return out
}

func (p setPlan) empty() bool { return len(p.Create) == 0 && p.Changed() == 0 }

// planSets diffs desired against actual. It is pure; a set that exists
// with another type or family is an error (the kernel cannot convert it,
// and it cannot be destroyed while our rules reference it).
func planSets(desired []Set, actual map[string]*actualSet) (setPlan, error) {
	var p setPlan
	var errs []error
	for _, s := range desired {
		a, ok := actual[s.Name]
		if !ok {
			p.Create = append(p.Create, s.SetSpec)
			for _, e := range s.Entries {
				p.Add = append(p.Add, setOp{s.Name, e.String() + e.Extensions()})
			}
			continue
		}
		if a.Type != s.Type || a.Family != s.Family || a.SkbInfo != s.SkbInfo {
			errs = append(errs, fmt.Errorf("ipset %s exists as %s, want %s: remove it (ipvsd cleanup) and sync again",
				s.Name, describeSet(a.Type, a.Family, a.SkbInfo), describeSet(s.Type, s.Family, s.SkbInfo)))
			continue
		}
		p.Add, p.Del = planEntries(p.Add, p.Del, s, a)
	}
	if len(errs) > 0 {
		return setPlan{}, errors.Join(errs...)
	}
	return p, nil
}

// planEntries appends to add and del what turns a's entries into s's.
// Each desired entry is printed into one reused buffer and looked up as
// such, so a set already in sync costs no allocation per entry (the
// periodic repair at 10,000 Services made some 50,000 strings here). The
// kernel has no extra entry when as many distinct desired entries were
// found as it holds; only then are the desired ones indexed, to find the
// extras.
func planEntries(add, del []setOp, s Set, a *actualSet) ([]setOp, []setOp) {
	var buf, ext []byte
	found := 0
	distinct := true // s.Entries sorted without duplicates, as Set documents
	for i, e := range s.Entries {
		if i > 0 && (s.Entries[i-1].Compare(e) >= 0 || sameElement(s.Entries[i-1], e)) {
			distinct = false
		}
		buf, ext = e.appendElement(buf[:0]), e.appendExtensions(ext[:0])
		got, ok := a.Entries[string(buf)]
		if ok {
			found++
		}
		// A changed extension is re-added: restore runs with -exist,
		// under which the kernel overwrites an existing element's
		// extensions (a delete and re-add would leave a moment with no
		// entry, and del refuses extensions).
		if !ok || got != string(ext) {
			add = append(add, setOp{s.Name, string(buf) + string(ext)})
		}
	}
	if distinct && found == len(a.Entries) {
		return add, del
	}
	want := make(map[string]struct{}, len(s.Entries))
	for _, e := range s.Entries {
		want[string(e.appendElement(buf[:0]))] = struct{}{}
	}
	var extra []string
	for str := range a.Entries {
		if _, ok := want[str]; !ok {
			extra = append(extra, str)
		}
	}
	slices.Sort(extra)
	for _, str := range extra {
		del = append(del, setOp{s.Name, str})
	}
	return add, del
}

// script renders the plan as one `ipset restore` input. Adds come before
// deletes so that an entry moving between sets is never briefly absent
// from both.
func (p setPlan) script() string {
	var b strings.Builder
	for _, s := range p.Create {
		fam := "inet"
		if s.Family == ipvs.IPv6 {
			fam = "inet6"
		}
		opts := ""
		if s.SkbInfo {
			opts = " skbinfo"
		}
		fmt.Fprintf(&b, "create %s %s family %s maxelem %d%s\n", s.Name, s.Type, fam, setMaxElem, opts)
	}
	for _, op := range p.Add {
		b.WriteString("add " + op.Set + " " + op.Entry + "\n")
	}
	for _, op := range p.Del {
		b.WriteString("del " + op.Set + " " + op.Entry + "\n")
	}
	return b.String()
}

func describeSet(t SetType, f ipvs.Family, skbinfo bool) string {
	if skbinfo {
		return fmt.Sprintf("%s %s skbinfo", t, f)
	}
	return fmt.Sprintf("%s %s", t, f)
}

package firewall

import (
	"cmp"
	"slices"

	"github.com/ipvsd/ipvsd/ipvs"
)

// setEntry is one entry of one of our sets.
type setEntry struct {
	Set   string
	Entry Entry
}

// elemKey names one element of one set: the entry without its marks,
// which are an extension of the element, not part of it.
type elemKey struct {
	set  string
	elem Entry
}

// variant is one mark an element is wanted with, and by how many
// virtual servers.
type variant struct {
	mark, mask uint32
	n          int
}

// refCounts counts, for every element of our sets, the virtual servers
// and hairpins that want it, because owners share elements: two Services
// listing one VIP (each port its own virtual server) share its vips entry,
// a node port claimed by two Services its np entries, a backend behind two
// Services its hairpin entry. An element goes when its last reference
// does, and carries the lowest mark wanted, as DesiredSets keeps it.
type refCounts map[elemKey][]variant

// chosen is the entry the kernel holds for k: its lowest mark.
func (r refCounts) chosen(k elemKey) (Entry, bool) {
	vs := r[k]
	if len(vs) == 0 {
		return Entry{}, false
	}
	e := k.elem
	e.Mark, e.MarkMask = vs[0].mark, vs[0].mask
	return e, true
}

// add counts d more references to se (d may be negative). Variants stay
// sorted by mark, as Entry.Compare orders them.
func (r refCounts) add(se setEntry, d int) {
	k := elemKey{se.Set, se.Entry}
	k.elem.Mark, k.elem.MarkMask = 0, 0
	vs := r[k]
	i, found := slices.BinarySearchFunc(vs, se.Entry, func(v variant, e Entry) int {
		return cmp.Or(cmp.Compare(v.mark, e.Mark), cmp.Compare(v.mask, e.MarkMask))
	})
	switch {
	case found:
		vs[i].n += d
		if vs[i].n <= 0 {
			vs = slices.Delete(vs, i, i+1)
		}
	case d > 0:
		vs = slices.Insert(vs, i, variant{se.Entry.Mark, se.Entry.MarkMask, d})
	}
	if len(vs) == 0 {
		delete(r, k)
	} else {
		r[k] = vs
	}
}

// changeRefs moves the counts from old's entries to new's (the entries of
// the owners an update changed, before and after) and returns what takes
// the kernel from the elements r held before to those it holds after:
// adds for elements that gained their first reference or whose lowest
// mark changed (restore runs with -exist, which overwrites the extension
// in place), dels for those that lost their last. It costs what old and
// new hold, whatever r holds. Both lists are sorted, for stable scripts.
func changeRefs(r refCounts, old, new []setEntry) (add, del []setEntry) {
	type before struct {
		e  Entry
		ok bool
	}
	touched := make(map[elemKey]before, len(old)+len(new))
	note := func(ses []setEntry) {
		for _, se := range ses {
			k := elemKey{se.Set, se.Entry}
			k.elem.Mark, k.elem.MarkMask = 0, 0
			if _, ok := touched[k]; !ok {
				e, ok := r.chosen(k)
				touched[k] = before{e, ok}
			}
		}
	}
	note(old)
	note(new)
	for _, se := range new {
		r.add(se, 1)
	}
	for _, se := range old {
		r.add(se, -1)
	}
	for k, b := range touched {
		a, ok := r.chosen(k)
		switch {
		case ok && (!b.ok || a != b.e):
			add = append(add, setEntry{k.set, a})
		case !ok && b.ok:
			del = append(del, setEntry{k.set, k.elem})
		}
	}
	bySet := func(a, b setEntry) int { return cmp.Or(cmp.Compare(a.Set, b.Set), a.Entry.Compare(b.Entry)) }
	slices.SortFunc(add, bySet)
	slices.SortFunc(del, bySet)
	return add, del
}

// setNames holds SetName of every role and family, so that computing an
// entry's set allocates nothing.
var setNames = func() map[ipvs.Family]map[string]string {
	m := map[ipvs.Family]map[string]string{}
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		m[f] = map[string]string{}
		for _, rt := range roleTypes {
			m[f][rt.role] = SetName(rt.role, f)
		}
	}
	return m
}()

// partEntries lists the set entries of some virtual servers and hairpins
// in every family of makers.
func partEntries(makers []*entryMaker, services []VirtualServer, hairpins []Hairpin) []setEntry {
	var out []setEntry
	for _, m := range makers {
		names := setNames[m.f]
		add := func(role string, e Entry) { out = append(out, setEntry{names[role], e}) }
		for i := range services {
			m.service(&services[i], add)
		}
		for _, h := range hairpins {
			m.hairpin(h, add)
		}
	}
	return out
}

// countRefs counts every entry of s's services and hairpins, the options'
// included.
func countRefs(makers []*entryMaker, s *State) refCounts {
	// About two elements a service: sized once, not grown.
	r := make(refCounts, 2*len(s.Parts)+len(s.Options.Services))
	for _, se := range partEntries(makers, s.Options.Services, s.Options.Hairpins) {
		r.add(se, 1)
	}
	for _, p := range s.Parts {
		for _, se := range partEntries(makers, p.Services, p.Hairpins) {
			r.add(se, 1)
		}
	}
	return r
}

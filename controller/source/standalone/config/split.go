package config

import (
	"bytes"
)

// layout is a config file cut into the text of each item of its services
// list and the rest (header), with the list replaced by "services: []".
type layout struct {
	header []byte
	items  [][]byte // each with its lines' own indentation, ending in a newline
}

// servicesLine is the key line a splittable file's list follows: the key
// alone, at the start of a line, its items on the lines after it.
var servicesLine = []byte("services:")

// splitFile cuts data into a layout when the file has the plain shape a
// person or a generator writes, and reports false for anything else,
// which is then parsed whole. The shape:
//
//   - no document marker, tab or carriage return anywhere;
//   - one line "services:" (trailing spaces allowed) at the start of a
//     line, and before and after the list only blank lines, comments at
//     the start of a line, "key:" lines and indented lines;
//   - the list is a block sequence: every item starts with "- " at one
//     indentation (the first item's), and its other lines are indented
//     deeper; blank lines may sit between items; the first line at that
//     indentation or less that starts no item ends the list;
//   - no item holds a character that could tie it to text outside it or
//     that the cut could change: an anchor, an alias, a tag or a block
//     scalar (& * ! | > %), or a complex key (?).
//
// An item that still does not stand alone (a quote or a bracket it opens
// and another closes) fails to parse by itself, and so does a header
// that lost a part of itself to the list: Parser then parses the file
// whole.
func splitFile(data []byte) (layout, bool) {
	if hasDocumentMarker(data) || containsAnyByte(data, "\t\r") {
		return layout{}, false
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		// The last line gets the newline an item or the header needs
		// before what is appended to it.
		data = append(bytes.Clone(data), '\n')
	}
	var lines [][]byte
	for line := range bytes.Lines(data) {
		lines = append(lines, line)
	}
	var l layout
	i := 0
	for ; i < len(lines) && !isServicesLine(lines[i]); i++ {
		if !headerLine(lines[i]) {
			return layout{}, false
		}
		l.header = append(l.header, lines[i]...)
	}
	if i == len(lines) {
		return layout{}, false
	}
	l.header = append(l.header, "services: []\n"...)
	for i++; i < len(lines) && blank(lines[i]); i++ {
	}
	if i == len(lines) {
		return layout{}, false
	}
	ind, ok := itemIndent(lines[i])
	if !ok {
		return layout{}, false
	}
	// Items are contiguous, so each is a slice of data from its first
	// line to the next item's.
	off := len(data) - sumLen(lines[i:])
	start, itemsFrom := off, off
	for ; i < len(lines); i++ {
		line := lines[i]
		if startsItem(line, ind) {
			if off > start {
				l.items = append(l.items, data[start:off:off])
			}
			start = off
		} else if !blank(line) && indent(line) <= ind {
			break
		}
		off += len(line)
	}
	l.items = append(l.items, data[start:off:off])
	itemsTo := off
	for ; i < len(lines); i++ {
		if !headerLine(lines[i]) {
			return layout{}, false
		}
		l.header = append(l.header, lines[i]...)
	}
	// The items are one run of data, searched once for each character
	// (a search per item and character set was a third of a one-weight
	// reload of 10,000 services).
	if containsAnyByte(data[itemsFrom:itemsTo], "&*!|>%?") {
		return layout{}, false
	}
	return l, true
}

// containsAnyByte reports whether b holds any of chars' bytes, with one
// vectorised search per byte.
func containsAnyByte(b []byte, chars string) bool {
	for i := range len(chars) {
		if bytes.IndexByte(b, chars[i]) >= 0 {
			return true
		}
	}
	return false
}

func sumLen(lines [][]byte) int {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return n
}

func isServicesLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, servicesLine)
	return ok && blank(rest)
}

// headerLine is a line outside the list that the cut leaves alone: blank,
// a comment or a "key:" at the start of the line, or indented (inside a
// top-level key's value).
func headerLine(line []byte) bool {
	if blank(line) || line[0] == ' ' || line[0] == '#' {
		return true
	}
	for j, c := range line {
		switch {
		case c == ':':
			return j > 0 && (j+1 == len(line) || line[j+1] == ' ' || line[j+1] == '\n')
		case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'):
			return false
		}
	}
	return false
}

// itemIndent is the indentation of line when it starts a list item.
func itemIndent(line []byte) (int, bool) {
	n := indent(line)
	return n, startsItem(line, n)
}

// startsItem reports "- " (or a lone "-") after exactly ind spaces.
func startsItem(line []byte, ind int) bool {
	if indent(line) != ind || len(line) < ind+2 || line[ind] != '-' {
		return false
	}
	return line[ind+1] == ' ' || line[ind+1] == '\n'
}

func indent(line []byte) int {
	n := 0
	for n < len(line) && line[n] == ' ' {
		n++
	}
	return n
}

func blank(line []byte) bool { return len(bytes.TrimLeft(line, " \n")) == 0 }

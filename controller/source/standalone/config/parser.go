package config

// Parser is Parse with a memory: it keeps each service of the last file
// it accepted by the text of its list item, so that a file differing from
// that one in a few services costs the parse of those services (and of
// the few lines outside the list), where Parse costs the whole file: at
// 10,000 services with 10 backends, 4.3 MB and over a second of YAML even
// on a fast CPU, for a one-weight edit.
//
// Its result is always Parse's, errors included: a file not of the plain
// shape splitFile accepts, or that fails any check when cut (a service
// invalid alone, a duplicate across services), is given to Parse whole.
// Not safe for concurrent use.
type Parser struct {
	items  map[string]*parsedItem
	cross  *crossIndex // items' services, counted
	gen    uint64      // the parse under way, for parsedItem.seen
	header string
	top    *Config // the header's parse, Services empty
	stats  ParseStats
}

// parsedItem is one list item's text and the service it parses to alone.
type parsedItem struct {
	text string
	svc  Service
	seen uint64 // the last parse whose file holds the item
}

// ParseStats say what the last Parse cost.
type ParseStats struct {
	// Whole: the file was parsed whole (by Parse).
	Whole bool
	// Services is how many services the file has; Parsed how many of them
	// were parsed (every one when Whole).
	Services, Parsed int
}

// NewParser returns a parser with no memory.
func NewParser() *Parser { return &Parser{} }

// Stats are the last Parse's.
func (p *Parser) Stats() ParseStats { return p.stats }

// Parse is Parse(data), and remembers data's services when it succeeds.
func (p *Parser) Parse(data []byte) (*Config, error) {
	if len(data) <= MaxFileSize {
		if l, ok := splitFile(data); ok {
			if c, ok := p.parseSplit(l); ok {
				return c, nil
			}
		}
	}
	c, err := Parse(data)
	if err != nil {
		p.stats = ParseStats{Whole: true}
		return nil, err
	}
	// The services cannot be tied to their text: nothing to remember.
	p.items, p.cross, p.header, p.top = nil, nil, "", nil
	p.stats = ParseStats{Whole: true, Services: len(c.Services), Parsed: len(c.Services)}
	return c, nil
}

// Load is Load with p's memory.
func (p *Parser) Load(path string) (*Config, []byte, error) {
	return load(path, p.Parse)
}

// parseSplit parses a cut file: the header and each item not seen in the
// last accepted file alone, then the checks across services, on what
// changed only. It reports false, changing nothing, when any of them
// fails. What it costs beyond the changed items is a lookup of each
// item's text and a copy of each service: the memory is updated in place.
func (p *Parser) parseSplit(l layout) (*Config, bool) {
	top := p.top
	if string(l.header) != p.header || top == nil {
		c, err := Parse(l.header)
		if err != nil || len(c.Services) != 0 {
			return nil, false
		}
		top = c
	}
	if p.items == nil {
		p.items, p.cross = map[string]*parsedItem{}, newCrossIndex()
	}
	p.gen++
	c := *top
	c.Services = make([]Service, len(l.items))
	var fresh []int // the items not in memory, in order
	for i, text := range l.items {
		it, ok := p.items[string(text)]
		switch {
		case !ok:
			fresh = append(fresh, i)
		case it.seen == p.gen:
			return nil, false // the same item twice: Parse says which
		default:
			it.seen = p.gen
			c.Services[i] = it.svc
		}
	}
	var gone []*parsedItem
	for _, it := range p.items {
		if it.seen != p.gen {
			gone = append(gone, it)
		}
	}
	added, ok := parseFresh(l.items, fresh)
	if !ok || !p.cross.tryChange(itemServices(gone), itemServices(added)) {
		return nil, false
	}
	for _, it := range gone {
		delete(p.items, it.text)
	}
	for j, i := range fresh {
		added[j].seen = p.gen
		p.items[added[j].text] = added[j]
		c.Services[i] = added[j].svc
	}
	p.header, p.top = string(l.header), top
	p.stats = ParseStats{Services: len(c.Services), Parsed: len(fresh)}
	return &c, true
}

// parseFresh parses the items at idx, chunkItems at a time.
func parseFresh(items [][]byte, idx []int) ([]*parsedItem, bool) {
	out := make([]*parsedItem, 0, len(idx))
	for len(idx) > 0 {
		n := min(len(idx), chunkItems)
		svcs, ok := parseItems(items, idx[:n])
		if !ok {
			return nil, false
		}
		for j, i := range idx[:n] {
			out = append(out, &parsedItem{text: string(items[i]), svc: svcs[j]})
		}
		idx = idx[n:]
	}
	return out, true
}

func itemServices(items []*parsedItem) []*Service {
	out := make([]*Service, len(items))
	for i, it := range items {
		out[i] = &it.svc
	}
	return out
}

// chunkItems is how many items one parse takes at most: a parse of its
// own per item costs about twice the whole file's (a YAML parser and a
// decoder each).
const chunkItems = 256

// parseItems parses the items at idx as a file of those services alone.
// Each must give one service: a quote or a bracket that one item opens
// and the next closes makes fewer, one left open past the last an error,
// so a service is only ever its own item's.
func parseItems(items [][]byte, idx []int) ([]Service, bool) {
	size := len("services:\n")
	for _, i := range idx {
		size += len(items[i])
	}
	doc := make([]byte, 0, size)
	doc = append(doc, "services:\n"...)
	for _, i := range idx {
		doc = append(doc, items[i]...)
	}
	c, err := Parse(doc)
	if err != nil || len(c.Services) != len(idx) {
		return nil, false
	}
	return c.Services, true
}

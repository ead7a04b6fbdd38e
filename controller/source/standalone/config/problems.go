package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// problems collects decoding and validation errors, each prefixed by its
// field path.
type problems struct {
	errs []error
	// skip holds the paths of values decoding rejected: what Validate
	// would say about them (and anything under them) is noise.
	skip []string
}

func (p *problems) add(path, format string, args ...any) {
	if p.skipped(path) {
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
}

// bad reports a value decoding rejected, and silences Validate about it.
func (p *problems) bad(path, format string, args ...any) {
	p.add(path, format, args...)
	p.skip = append(p.skip, path)
}

// skipped reports whether path is, or is inside, a value decoding rejected.
func (p *problems) skipped(path string) bool {
	for _, s := range p.skip {
		if path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[") {
			return true
		}
	}
	return false
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// quote is %q of at most the first maxQuoted bytes of s.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + fmt.Sprintf("... (%d bytes)", len(s))
}

func truncate(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + fmt.Sprintf("... (%d bytes)", len(s))
}

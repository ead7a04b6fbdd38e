package netlinkutil

import (
	"strings"
	"unicode"
)

// ValidLinkName applies the kernel's rules for a link name (dev_valid_name
// in net/core/dev.c): 1-15 bytes, not "." or "..", and no '/', ':' or
// whitespace. A NUL would cut the name short in the kernel.
func ValidLinkName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == ':' || r == 0 || unicode.IsSpace(r)
	})
}

package lab

import (
	"fmt"
	"strings"
)

// Packaging is how the guest's iptables tools are named. The base image
// has Debian's: the -nft and -legacy names of both back-ends, and the
// plain names (iptables, iptables-save, ip6tables-restore, ...) pointing
// at nft. The others re-link names in /usr/sbin when the guest boots, to
// present what other distributions and images install; the cached base
// stays as it is. xtables-nft-multi and xtables-legacy-multi stay in every
// packaging, so a test can always read both back-ends with the real tools
// (`xtables-legacy-multi iptables-save`).
type Packaging string

const (
	// PackagingDebian is the base image's.
	PackagingDebian Packaging = ""
	// PackagingPlainNFT has only the plain names, of nft, as Alpine's
	// iptables package and many container images install them.
	PackagingPlainNFT Packaging = "plain-nft"
	// PackagingPlainLegacy has only the plain names, of legacy, as
	// distributions and images still on x_tables do.
	PackagingPlainLegacy Packaging = "plain-legacy"
	// PackagingPlainNFTSuffixedLegacy has the plain names of nft and the
	// legacy tools as iptables-legacy*, as Alpine with iptables-legacy
	// does: the host of issue 13, where counting only the suffixed names
	// saw no nft at all.
	PackagingPlainNFTSuffixedLegacy Packaging = "plain-nft+legacy"
)

// PackagingEnv is exported to the guest with the packaging's name when it
// is not the base image's, so guest tests know what to expect.
const PackagingEnv = "IPVSD_LAB_PACKAGING"

// packaging is what a Packaging keeps: the back-end the plain names point
// at, and the back-ends whose suffixed names stay.
type packaging struct {
	plain    string
	suffixed []string
}

var packagings = map[Packaging]packaging{
	PackagingDebian:                 {"nft", []string{"nft", "legacy"}},
	PackagingPlainNFT:               {"nft", nil},
	PackagingPlainLegacy:            {"legacy", nil},
	PackagingPlainNFTSuffixedLegacy: {"nft", []string{"legacy"}},
}

// packagingScript is the run.sh prologue that re-links the tools for p.
func packagingScript(p Packaging) string {
	if p == PackagingDebian {
		return ""
	}
	k := packagings[p]
	var s strings.Builder
	fmt.Fprintf(&s, "export %s=%s\n", PackagingEnv, shellQuote(string(p)))
	s.WriteString("for t in iptables ip6tables; do for s in '' -save -restore; do\n")
	for _, m := range []string{"nft", "legacy"} {
		if !strings.Contains(" "+strings.Join(k.suffixed, " ")+" ", " "+m+" ") {
			fmt.Fprintf(&s, "\trm -f /usr/sbin/$t-%s$s\n", m)
		}
	}
	fmt.Fprintf(&s, "\tln -sf xtables-%s-multi /usr/sbin/$t$s\n", k.plain)
	s.WriteString("done; done\n")
	return s.String()
}

// Layout is the back-end the plain names point at and the back-ends whose
// suffixed names (iptables-nft-save, ...) exist.
func (p Packaging) Layout() (plain string, suffixed []string) {
	k := packagings[p]
	return k.plain, k.suffixed
}

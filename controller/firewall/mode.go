package firewall

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Mode is the iptables back-end: the nf_tables compatibility layer or the
// legacy x_tables. Both can hold rules at once and the kernel runs both, so
// rules must go where the host's other agents put theirs, and never both.
type Mode string

const (
	ModeAuto   Mode = ""
	ModeNFT    Mode = "nft"
	ModeLegacy Mode = "legacy"
)

// ParseMode accepts auto (or empty), nft and legacy, for --iptables-mode.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return ModeAuto, nil
	case "nft", "legacy":
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown iptables mode %q (want auto, nft or legacy)", s)
}

// Detection is what DetectMode found: the back-end chosen, the rules each
// back-end holds (both families) and the save tools that counted them.
type Detection struct {
	Mode  Mode
	Rules map[Mode]int
	Tools map[Mode][]string
}

// DetectMode picks the back-end that already holds more rules, counting
// rule lines of both families in each, as the iptables wrappers shipped by
// Kubernetes distributions do: whoever came first (Calico, Docker, the
// distribution's firewall) decided. A tie, such as an empty host, picks nft,
// the default of every current distribution. Each back-end's tools are
// found by FindBinaries, under their suffixed or their plain names; a
// back-end whose tools are missing or fail counts as absent; if both are,
// that is an error.
func DetectMode(ctx context.Context, x Exec) (Detection, error) {
	d := Detection{Rules: map[Mode]int{}, Tools: map[Mode][]string{}}
	var errs []error
	for _, m := range []Mode{ModeNFT, ModeLegacy} {
		for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
			b, err := FindBinaries(ctx, x, m, f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out, err := x.Run(ctx, "", b.Save)
			if err != nil {
				errs = append(errs, fmt.Errorf("counting iptables %s %s rules: %w", m, f, err))
				continue
			}
			d.Tools[m] = append(d.Tools[m], b.Save)
			d.Rules[m] += countRules(out)
		}
	}
	nft, legacy := len(d.Tools[ModeNFT]) > 0, len(d.Tools[ModeLegacy]) > 0
	switch {
	case !nft && !legacy:
		return d, fmt.Errorf("detecting the iptables mode: %w", errors.Join(errs...))
	case !nft:
		d.Mode = ModeLegacy
	case !legacy:
		d.Mode = ModeNFT
	case d.Rules[ModeLegacy] > d.Rules[ModeNFT]:
		d.Mode = ModeLegacy
	default:
		d.Mode = ModeNFT
	}
	return d, nil
}

func countRules(save string) int {
	n := 0
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, "-A ") {
			n++
		}
	}
	return n
}

package firewall

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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

// binary is the name of one tool of a mode and family: iptables-nft-save,
// ip6tables-legacy-restore, ...
func binary(m Mode, f ipvs.Family, tool string) string {
	name := "iptables-" + string(m)
	if f == ipvs.IPv6 {
		name = "ip6tables-" + string(m)
	}
	if tool != "" {
		name += "-" + tool
	}
	return name
}

// saver prints a mode's whole ruleset of one family (iptables-save).
type saver func(ctx context.Context, m Mode, f ipvs.Family) (string, error)

func execSaver(ctx context.Context, m Mode, f ipvs.Family) (string, error) {
	path, err := exec.LookPath(binary(m, f, "save"))
	if err != nil {
		return "", err
	}
	return run(ctx, "", path)
}

// DetectMode picks the back-end that already holds more rules, counting
// rule lines of both families in each, as the iptables wrappers shipped by
// Kubernetes distributions do: whoever came first (Calico, Docker, the
// distribution's firewall) decided. A tie, such as an empty host, picks nft,
// the default of every current distribution. A back-end whose tools are
// missing or fail counts as absent; if both are, that is an error.
func DetectMode(ctx context.Context) (Mode, map[Mode]int, error) {
	return detectMode(ctx, execSaver)
}

func detectMode(ctx context.Context, save saver) (Mode, map[Mode]int, error) {
	counts := map[Mode]int{}
	var errs []error
	usable := map[Mode]bool{}
	for _, m := range []Mode{ModeNFT, ModeLegacy} {
		for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
			out, err := save(ctx, m, f)
			if err != nil {
				errs = append(errs, fmt.Errorf("counting %s rules: %w", binary(m, f, "save"), err))
				continue
			}
			usable[m] = true
			counts[m] += countRules(out)
		}
	}
	switch {
	case !usable[ModeNFT] && !usable[ModeLegacy]:
		return "", counts, fmt.Errorf("detecting the iptables mode: %w", errors.Join(errs...))
	case !usable[ModeNFT]:
		return ModeLegacy, counts, nil
	case !usable[ModeLegacy]:
		return ModeNFT, counts, nil
	case counts[ModeLegacy] > counts[ModeNFT]:
		return ModeLegacy, counts, nil
	}
	return ModeNFT, counts, nil
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

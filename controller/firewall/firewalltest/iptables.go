package firewalltest

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Sh runs name with args, stdin on its standard input, and returns its
// combined output; any failure fails t with that output.
func Sh(t testing.TB, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Tool is the iptables command of back-end m and family f: suffix "" for
// iptables itself, "save" or "restore" for those; m "" for the plain names
// (iptables-save, ...), whichever back-end they drive.
func Tool(m firewall.Mode, f ipvs.Family, suffix string) string {
	name := "iptables"
	if f == ipvs.IPv6 {
		name = "ip6tables"
	}
	if m != "" {
		name += "-" + string(m)
	}
	if suffix != "" {
		name += "-" + suffix
	}
	return name
}

// Multi is Tool run through its back-end's multi-call binary
// (xtables-nft-multi iptables-save, ...), which every packaging of
// iptables 1.8 installs whatever names it links to it: tests read and
// write the back-end they mean even where the tool names are missing or
// point elsewhere.
func Multi(m firewall.Mode, f ipvs.Family, suffix string) (name string, args []string) {
	tool := "iptables"
	if f == ipvs.IPv6 {
		tool = "ip6tables"
	}
	if suffix != "" {
		tool += "-" + suffix
	}
	return "xtables-" + string(m) + "-multi", []string{tool}
}

// OtherMode is the iptables back-end that is not m.
func OtherMode(m firewall.Mode) firewall.Mode {
	if m == firewall.ModeNFT {
		return firewall.ModeLegacy
	}
	return firewall.ModeNFT
}

var declCounters = regexp.MustCompile(`\[\d+:\d+\]$`)

// SaveAll is the nat, filter and mangle tables (every table we own chains
// in) of one family, without the dated comment lines and with chain
// counters zeroed (traffic moves them), so two snapshots compare as text.
func SaveAll(t testing.TB, m firewall.Mode, f ipvs.Family) string {
	var b strings.Builder
	for _, table := range []string{"nat", "filter", "mangle"} {
		name, args := Multi(m, f, "save")
		for _, l := range strings.Split(Sh(t, "", name, append(args, "-t", table)...), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			b.WriteString(declCounters.ReplaceAllString(l, "[0:0]") + "\n")
		}
	}
	return b.String()
}

// Split separates our lines of a SaveAll snapshot from everyone else's.
func Split(save string) (ours, others string) {
	var o, e strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(save, "\n"), "\n") {
		if firewall.IsOurLine(l) {
			o.WriteString(l + "\n")
		} else {
			e.WriteString(l + "\n")
		}
	}
	return o.String(), e.String()
}

//go:build lab

package packaging

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/ipvs"
)

var families = []ipvs.Family{ipvs.IPv4, ipvs.IPv6}

// TestPackaging: on this run's packaging, another agent's rules (and its
// FORWARD policy DROP) live in the back-end the plain tools drive; ipvsd
// standalone must detect that back-end, program it and only it, carry
// traffic through the other agent's DROP, and clean up to the byte.
func TestPackaging(t *testing.T) {
	p := lab.Packaging(os.Getenv(lab.PackagingEnv))
	plain, suffixed := p.Layout()
	if plain == "" {
		t.Fatalf("unknown packaging %q", p)
	}
	checkNames(t, plain, suffixed)
	m := firewall.Mode(plain)
	other := firewalltest.OtherMode(m)

	w := newWorld(t)
	firewalltest.Calico(t, m, pool)
	before := map[firewall.Mode]map[ipvs.Family]string{m: {}, other: {}}
	for _, mm := range []firewall.Mode{m, other} {
		for _, f := range families {
			before[mm][f] = firewalltest.SaveAll(t, mm, f)
		}
	}
	if !strings.Contains(before[m][ipvs.IPv4], ":FORWARD DROP") {
		t.Fatalf("the other agent's ruleset must drop forwarded traffic:\n%s", before[m][ipvs.IPv4])
	}

	d := w.start(t)
	w.waitServed(t, d)
	detected := ""
	for _, l := range strings.Split(d.log.String(), "\n") {
		if strings.Contains(l, "detected iptables mode") {
			detected = l
		}
	}
	if !strings.Contains(detected, `"mode": "`+plain+`"`) {
		t.Errorf("ipvsd did not log detecting %s: %q", plain, detected)
	}
	for _, f := range families {
		ours, others := firewalltest.Split(firewalltest.SaveAll(t, m, f))
		if !strings.Contains(ours, "-A FORWARD -j IPVSD-FORWARD") {
			t.Errorf("%s %s: our chains are missing:\n%s", m, f, ours)
		}
		if others != before[m][f] {
			t.Errorf("%s %s: the other agent's rules changed:\n%s\nwant\n%s", m, f, others, before[m][f])
		}
		if got := firewalltest.SaveAll(t, other, f); got != before[other][f] {
			t.Errorf("%s %s, which the plain tools do not drive, was written:\n%s\nwant\n%s", other, f, got, before[other][f])
		}
	}

	d.stop(t)
	t.Logf("ipvsd cleanup:\n%s", run(t, "ipvsd", "cleanup", "--record", w.record))
	for _, mm := range []firewall.Mode{m, other} {
		for _, f := range families {
			if got := firewalltest.SaveAll(t, mm, f); got != before[mm][f] {
				t.Errorf("%s %s after cleanup:\n%s\nwant\n%s", mm, f, got, before[mm][f])
			}
		}
	}
	if names := run(t, "ipset", "list", "-n"); strings.Contains(names, firewall.SetPrefix) {
		t.Errorf("our ipsets survived cleanup:\n%s", names)
	}
}

// checkNames requires the guest's tools to be as the packaging says, read
// with the real tools: every plain name says it is plain, and a suffixed
// name exists exactly for the back-ends in suffixed.
func checkNames(t *testing.T, plain string, suffixed []string) {
	t.Helper()
	want := map[string]string{"nft": "(nf_tables)", "legacy": "(legacy)"}
	for _, f := range families {
		for _, tool := range []string{"", "save", "restore"} {
			name := firewalltest.Tool("", f, tool)
			if out := run(t, name, "--version"); !strings.Contains(out, want[plain]) {
				t.Errorf("%s --version: %q; want %s", name, out, want[plain])
			}
			for _, m := range []string{"nft", "legacy"} {
				name := firewalltest.Tool(firewall.Mode(m), f, tool)
				_, err := exec.LookPath(name)
				if has := err == nil; has != slices.Contains(suffixed, m) {
					t.Errorf("%s installed: %v; want %v", name, has, !has)
				}
			}
		}
	}
}

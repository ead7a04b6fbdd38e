package firewall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Desired)
		opts RenderOptions
	}{
		{name: "default", opts: RenderOptions{RandomFully: true}},
		// Bits 16 and 17 leave the local marks the 16 bits below.
		{name: "masquerade-all", edit: func(d *Desired) { d.MasqueradeAll = true; d.MasqueradeBit, d.DropBit = 17, 16 }},
		{name: "no-cluster-cidrs", edit: func(d *Desired) { d.ClusterCIDRs = nil }},
		// detectLocalMode InterfaceNamePrefix: pods by interface name.
		{name: "local-interface", edit: func(d *Desired) { d.LocalInterface = "veth+" }},
	} {
		for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
			t.Run(fmt.Sprintf("%s-%s", tc.name, f), func(t *testing.T) {
				d := sample()
				if tc.edit != nil {
					tc.edit(&d)
				}
				d.Defaults()
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, fmt.Sprintf("rules-%s-%s.golden", tc.name, strings.ToLower(f.String())), Render(&d, f, tc.opts).String())
			})
		}
	}
}

// The ruleset is constant: it does not change with the services.
func TestRenderIndependentOfServices(t *testing.T) {
	d := sample()
	d.Defaults()
	empty := d
	empty.Services, empty.Hairpins = nil, nil
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		if a, b := Render(&d, f, RenderOptions{}).String(), Render(&empty, f, RenderOptions{}).String(); a != b {
			t.Errorf("%s: ruleset depends on services:\n%s\nvs\n%s", f, a, b)
		}
	}
}

func TestPlanTable(t *testing.T) {
	d := sample()
	d.Defaults()
	nat := Render(&d, ipvs.IPv4, RenderOptions{}).Tables[0]
	installed := "*nat\n:PREROUTING ACCEPT [3:180]\n:cali-PREROUTING - [0:0]\n-A PREROUTING -j cali-PREROUTING\n" +
		strings.Join(nat.Lines(), "\n") + "\nCOMMIT\n"
	// iptables-save shows counters on our declarations too.
	installed = strings.Replace(installed, ":IPVSD-MASQ - [0:0]", ":IPVSD-MASQ - [5:300]", 1)

	if p := planTable(&nat, parseTable(installed)); !p.empty() {
		t.Fatalf("in-sync table planned %+v", p)
	}
	noJump := strings.Replace(installed, "-A PREROUTING -j IPVSD-PREROUTING\n", "", 1)
	if p := planTable(&nat, parseTable(noJump)); p.Rewrite || len(p.Missing) != 1 || p.Missing[0].From != "PREROUTING" {
		t.Errorf("missing jump: planned %+v", p)
	}
	edited := strings.Replace(installed, "-A IPVSD-MASQ -j MASQUERADE\n", "", 1)
	if p := planTable(&nat, parseTable(edited)); !p.Rewrite || len(p.Missing) != 0 {
		t.Errorf("deleted rule: planned %+v", p)
	}
	stale := installed + ":IPVSD-OLD - [0:0]\n-A OUTPUT -j IPVSD-OLD\n"
	p := planTable(&nat, parseTable(stale))
	if !p.Rewrite || len(p.Stale) != 1 || len(p.StaleJumps) != 1 {
		t.Fatalf("stale chain: planned %+v", p)
	}
	text := p.restoreText(&nat)
	for _, want := range []string{"-D OUTPUT -j IPVSD-OLD\n", "-F IPVSD-OLD\n", "-X IPVSD-OLD\nCOMMIT\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("restore text lacks %q:\n%s", want, text)
		}
	}

	clean := cleanupText("nat", parseTable(installed))
	checkGolden(t, "cleanup-nat.golden", clean)
	if cleanupText("nat", parseTable("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j cali-PREROUTING\nCOMMIT\n")) != "" {
		t.Error("cleanup of a table without our lines is not empty")
	}
}

func TestIsOurLine(t *testing.T) {
	for line, want := range map[string]bool{
		":IPVSD-INPUT - [0:0]":                   true,
		"-A IPVSD-INPUT -j DROP":                 true,
		"-A INPUT -j IPVSD-INPUT":                true,
		"-A INPUT -s 10.0.0.1/32 -j IPVSD-INPUT": false, // someone else's conditional jump
		"-A INPUT -j cali-INPUT":                 false,
		":cali-INPUT - [0:0]":                    false,
	} {
		if got := IsOurLine(line); got != want {
			t.Errorf("IsOurLine(%q) = %v, want %v", line, got, want)
		}
	}
}

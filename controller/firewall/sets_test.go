package firewall

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

func renderSets(sets []Set) string {
	var b strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&b, "%s %s %s\n", s.Name, s.Type, s.Family)
		for _, e := range s.Entries {
			b.WriteString("  " + e.String() + "\n")
		}
	}
	return b.String()
}

func TestDesiredSetsGolden(t *testing.T) {
	d := sample()
	// Duplicates collapse.
	d.Services = append(d.Services, d.Services[0])
	golden(t, "sets-v4.golden", renderSets(DesiredSets(&d, ipvs.IPv4)))
	golden(t, "sets-v6.golden", renderSets(DesiredSets(&d, ipvs.IPv6)))
}

func TestSetNamesFitTheKernel(t *testing.T) {
	for _, f := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		for _, s := range SetSpecs(f) {
			// IPSET_MAXNAMELEN is 32 including the NUL.
			if len(s.Name) > 31 || !strings.HasPrefix(s.Name, SetPrefix) {
				t.Errorf("bad set name %q", s.Name)
			}
		}
	}
}

func TestPlanSets(t *testing.T) {
	d := sample()
	desired := DesiredSets(&d, ipvs.IPv4)
	fromEmpty, err := planSets(desired, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromEmpty.Create) != len(SetSpecs(ipvs.IPv4)) || len(fromEmpty.Del) != 0 {
		t.Fatalf("from empty: %+v", fromEmpty)
	}
	// What the kernel would print after applying it.
	var save strings.Builder
	for _, s := range desired {
		fmt.Fprintf(&save, "create %s %s family inet hashsize 1024 maxelem %d bucketsize 12 initval 0x1\n", s.Name, s.Type, setMaxElem)
		for _, e := range s.Entries {
			fmt.Fprintf(&save, "add %s %s\n", s.Name, e)
		}
	}
	actual, err := parseIPSetSave(save.String())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := planSets(desired, actual); !p.empty() {
		t.Fatalf("in sync, planned %+v", p)
	}
	// One service removed, one added: a handful of entries.
	d.Services = d.Services[1:]
	d.Services = append(d.Services, VirtualServer{Key: key("10.96.0.99", ipvs.TCP, 8443), Kind: ClusterIP})
	p, err := planSets(DesiredSets(&d, ipvs.IPv4), actual)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-one-service.golden", p.script())

	actual[SetName(roleVS, ipvs.IPv4)].Type = HashIP
	if _, err := planSets(desired, actual); err == nil || !strings.Contains(err.Error(), "ipvsd-vs-v4") {
		t.Errorf("type mismatch: got %v", err)
	}
}

func TestValidate(t *testing.T) {
	d := sample()
	d.Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	d.Services[0].Key.Port = 0
	d.Services[1].SourceRanges = prefixes("10.0.0.0/8")
	d.DropBit = d.MasqueradeBit
	err := d.Validate()
	for _, want := range []string{"port 0", "load-balancer IPs only", "both 14"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestDetectMode(t *testing.T) {
	rules := func(n int) string { return strings.Repeat("-A INPUT -j ACCEPT\n", n) }
	missing := errors.New("not installed")
	for _, tc := range []struct {
		name   string
		nft    string
		legacy string
		legErr error
		want   Mode
	}{
		{"empty host", "", "", nil, ModeNFT},
		{"legacy holds rules", rules(1), rules(5), nil, ModeLegacy},
		{"nft holds rules", rules(5), rules(1), nil, ModeNFT},
		{"tie", rules(2), rules(2), nil, ModeNFT},
		{"no legacy tools", "", "", missing, ModeNFT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := detectMode(context.Background(), func(_ context.Context, m Mode, _ ipvs.Family) (string, error) {
				if m == ModeLegacy {
					return tc.legacy, tc.legErr
				}
				return tc.nft, nil
			})
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

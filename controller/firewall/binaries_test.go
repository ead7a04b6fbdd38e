package firewall_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

const (
	nft    = firewall.ModeNFT
	legacy = firewall.ModeLegacy
)

func rules(n int) string { return strings.Repeat("-A INPUT -j ACCEPT\n", n) }

// saveTools are the save tools of both families under suffix.
func saveTools(suffix string) []string {
	return []string{firewalltest.SaveTool(ipvs.IPv4, suffix), firewalltest.SaveTool(ipvs.IPv6, suffix)}
}

// TestDetectModePackagings: whatever names a host installed its iptables
// under, the back-end holding the other agents' rules is chosen and its
// rules are counted with tools that exist.
func TestDetectModePackagings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pkg   firewalltest.Packaging
		rules map[firewall.Mode]string
		want  firewall.Detection
	}{{
		name:  "only plain names, nft",
		pkg:   firewalltest.Packaging{Plain: nft},
		rules: map[firewall.Mode]string{nft: rules(3)},
		want: firewall.Detection{Mode: nft, Rules: map[firewall.Mode]int{nft: 6},
			Tools: map[firewall.Mode][]string{nft: saveTools("")}},
	}, {
		name:  "only plain names, legacy",
		pkg:   firewalltest.Packaging{Plain: legacy},
		rules: map[firewall.Mode]string{legacy: rules(2)},
		want: firewall.Detection{Mode: legacy, Rules: map[firewall.Mode]int{legacy: 4},
			Tools: map[firewall.Mode][]string{legacy: saveTools("")}},
	}, {
		name:  "both suffixed, legacy holds more",
		pkg:   firewalltest.Packaging{Suffixed: []firewall.Mode{nft, legacy}},
		rules: map[firewall.Mode]string{nft: rules(1), legacy: rules(2)},
		want: firewall.Detection{Mode: legacy, Rules: map[firewall.Mode]int{nft: 2, legacy: 4},
			Tools: map[firewall.Mode][]string{nft: saveTools("nft"), legacy: saveTools("legacy")}},
	}, {
		// Issue 13: counting only the suffixed names saw no nft and
		// wrote into the empty legacy tables.
		name:  "plain names nft, legacy suffixed",
		pkg:   firewalltest.Packaging{Plain: nft, Suffixed: []firewall.Mode{legacy}},
		rules: map[firewall.Mode]string{nft: rules(5)},
		want: firewall.Detection{Mode: nft, Rules: map[firewall.Mode]int{nft: 10, legacy: 0},
			Tools: map[firewall.Mode][]string{nft: saveTools(""), legacy: saveTools("legacy")}},
	}, {
		name:  "plain names legacy, nft suffixed",
		pkg:   firewalltest.Packaging{Plain: legacy, Suffixed: []firewall.Mode{nft}},
		rules: map[firewall.Mode]string{legacy: rules(1)},
		want: firewall.Detection{Mode: legacy, Rules: map[firewall.Mode]int{nft: 0, legacy: 2},
			Tools: map[firewall.Mode][]string{nft: saveTools("nft"), legacy: saveTools("")}},
	}, {
		name:  "tie",
		pkg:   firewalltest.Packaging{Suffixed: []firewall.Mode{nft, legacy}},
		rules: map[firewall.Mode]string{nft: rules(2), legacy: rules(2)},
		want: firewall.Detection{Mode: nft, Rules: map[firewall.Mode]int{nft: 4, legacy: 4},
			Tools: map[firewall.Mode][]string{nft: saveTools("nft"), legacy: saveTools("legacy")}},
	}, {
		name:  "no legacy tools",
		pkg:   firewalltest.Packaging{Suffixed: []firewall.Mode{nft}},
		rules: map[firewall.Mode]string{nft: rules(1)},
		want: firewall.Detection{Mode: nft, Rules: map[firewall.Mode]int{nft: 2},
			Tools: map[firewall.Mode][]string{nft: saveTools("nft")}},
	}, {
		name:  "Debian: both suffixed and plain, empty host",
		pkg:   firewalltest.Packaging{Plain: nft, Suffixed: []firewall.Mode{nft, legacy}},
		rules: map[firewall.Mode]string{},
		want: firewall.Detection{Mode: nft, Rules: map[firewall.Mode]int{nft: 0, legacy: 0},
			Tools: map[firewall.Mode][]string{nft: saveTools("nft"), legacy: saveTools("legacy")}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			x := firewalltest.NewExec(tc.pkg, tc.rules)
			got, err := firewall.DetectMode(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("detection (-want +got):\n%s\nran %q", diff, x.Ran())
			}
		})
	}
}

func TestDetectModeNothingInstalled(t *testing.T) {
	_, err := firewall.DetectMode(context.Background(), firewalltest.NewExec(firewalltest.Packaging{}, nil))
	if !errors.Is(err, firewall.ErrNotInstalled) || !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("got %v; want an error wrapping ErrNotInstalled and exec.ErrNotFound", err)
	}
	for _, name := range []string{"iptables-nft-save", "ip6tables-legacy-save", "iptables-save,", "ip6tables-restore"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s:\n%v", name, err)
		}
	}
}

// TestFindBinaries: every tool a Firewall executes (iptables for
// go-iptables, save and restore) is one of the names installed, of the
// back-end asked for.
func TestFindBinaries(t *testing.T) {
	plainNFT := firewalltest.Packaging{Plain: nft, Suffixed: []firewall.Mode{legacy}}
	for _, tc := range []struct {
		name string
		pkg  firewalltest.Packaging
		mode firewall.Mode
		f    ipvs.Family
		want firewall.Binaries // zero: not installed
	}{
		{"plain nft", plainNFT, nft, ipvs.IPv4, firewall.Binaries{Mode: nft, Family: ipvs.IPv4,
			IPTables: "/usr/sbin/iptables", Save: "/usr/sbin/iptables-save", Restore: "/usr/sbin/iptables-restore", Plain: true}},
		{"suffixed legacy next to plain nft", plainNFT, legacy, ipvs.IPv6, firewall.Binaries{Mode: legacy, Family: ipvs.IPv6,
			IPTables: "/usr/sbin/ip6tables-legacy", Save: "/usr/sbin/ip6tables-legacy-save", Restore: "/usr/sbin/ip6tables-legacy-restore"}},
		{"plain names are the other back-end", firewalltest.Packaging{Plain: legacy}, nft, ipvs.IPv4, firewall.Binaries{}},
		{"nothing", firewalltest.Packaging{}, legacy, ipvs.IPv4, firewall.Binaries{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := firewall.FindBinaries(context.Background(), firewalltest.NewExec(tc.pkg, nil), tc.mode, tc.f)
			if tc.want == (firewall.Binaries{}) {
				if !errors.Is(err, firewall.ErrNotInstalled) {
					t.Fatalf("got %+v, %v; want ErrNotInstalled", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

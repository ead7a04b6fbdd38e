package hosttest

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/internal/golden"
	"github.com/ipvsd/ipvsd/ipvs"
)

var families = []ipvs.Family{ipvs.IPv4, ipvs.IPv6}

// TestCoexistence programs the firewall next to a Calico-like ruleset in
// each back-end and checks, after every step, that our lines are exactly
// the rendered ruleset and that every other line is byte-for-byte what it
// was before we came.
func TestCoexistence(t *testing.T) {
	for _, mode := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		t.Run(string(mode), func(t *testing.T) { testCoexistence(t, mode) })
	}
}

func testCoexistence(t *testing.T, mode firewall.Mode) {
	ctx := context.Background()
	other := firewalltest.OtherMode(mode)
	before := map[ipvs.Family]string{}
	otherBefore := map[ipvs.Family]string{}
	for _, f := range families {
		firewalltest.Calico(t, mode, podPool[f])
		before[f] = firewalltest.SaveAll(t, mode, f)
		otherBefore[f] = firewalltest.SaveAll(t, other, f)
	}
	caliSets := firewalltest.Sh(t, "", "ipset", "save")

	fw, err := firewall.New(ctx, zaptest.NewLogger(t), firewall.Config{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	d := sample()
	rulesets, err := fw.Rulesets(d)
	if err != nil {
		t.Fatal(err)
	}

	// check compares the kernel with what we rendered and with before.
	check := func(step string) {
		t.Helper()
		for i, f := range families {
			ours, others := firewalltest.Split(firewalltest.SaveAll(t, mode, f))
			var want strings.Builder
			for _, table := range rulesets[i].Tables {
				want.WriteString(strings.Join(table.Lines(), "\n") + "\n")
			}
			if diff := cmp.Diff(want.String(), ours); diff != "" {
				t.Errorf("%s, %s: our lines differ from the rendered ruleset (-want +got):\n%s", step, f, diff)
			}
			if diff := cmp.Diff(before[f], others); diff != "" {
				t.Errorf("%s, %s: someone else's lines changed (-before +after):\n%s", step, f, diff)
			}
			if got := firewalltest.SaveAll(t, other, f); got != otherBefore[f] {
				t.Errorf("%s, %s: the %s back-end was touched:\n%s", step, f, other, got)
			}
		}
	}

	res, err := fw.Sync(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// Seven jumps (three nat, three filter, one mangle) and three
	// tables per family.
	if res.SetsCreated != 2*len(firewall.SetSpecs(ipvs.IPv4)) || res.JumpsInserted != 14 || res.ChainsRewritten != 6 {
		t.Errorf("first sync: %+v", res)
	}
	check("after the first sync")
	for _, f := range families {
		ours, _ := firewalltest.Split(firewalltest.SaveAll(t, mode, f))
		checkGolden(t, "save-"+strings.ToLower(f.String())+".golden", ours)
	}

	if res, err := fw.Sync(ctx, d); err != nil || res != (firewall.Result{}) {
		t.Errorf("second sync changed %+v, %v; want nothing", res, err)
	}

	// Hand edits: one of our rules, one of our jumps and one set entry
	// go, and one entry's mark changes.
	firewalltest.Sh(t, "", firewalltest.Tool(mode, ipvs.IPv4, ""), "-t", "nat", "-D", "IPVSD-MASQ", "-j", "MASQUERADE", "--random-fully")
	firewalltest.Sh(t, "", firewalltest.Tool(mode, ipvs.IPv6, ""), "-t", "filter", "-D", "FORWARD", "-j", "IPVSD-FORWARD")
	firewalltest.Sh(t, "", "ipset", "del", "ipvsd-vs-v4", "10.96.0.10,udp:53")
	firewalltest.Sh(t, "", "ipset", "add", "-exist", "ipvsd-np-fwmark-v4", "192.168.1.10,tcp:30080", "skbmark", "0x1234/0xbfff")
	// Sync trusts what it applied for the sets; Check looks again.
	if res, err := fw.Sync(ctx, d); err != nil || res.EntriesChanged() != 0 || res.ChainsRewritten != 1 {
		t.Errorf("sync after hand edits: %+v, %v; want rules repaired, sets untouched", res, err)
	}
	firewalltest.Sh(t, "", firewalltest.Tool(mode, ipvs.IPv6, ""), "-t", "filter", "-D", "FORWARD", "-j", "IPVSD-FORWARD")
	res, err = fw.Check(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := (firewall.Result{EntriesAdded: 2, JumpsInserted: 1}); res != want {
		t.Errorf("repair: got %+v, want %+v", res, want)
	}
	check("after repairing hand edits")

	// Our whole chain deleted (the jump into it first, as the kernel
	// insists): restored too.
	firewalltest.Sh(t, "*filter\n-D INPUT -j IPVSD-INPUT\n-F IPVSD-INPUT\n-X IPVSD-INPUT\nCOMMIT\n", firewalltest.Tool(mode, ipvs.IPv4, "restore"), "--noflush")
	if res, err := fw.Sync(ctx, d); err != nil || res.ChainsRewritten != 1 || res.JumpsInserted != 1 {
		t.Errorf("deleted chain: %+v, %v", res, err)
	}
	check("after restoring a deleted chain")

	if err := fw.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if got := firewalltest.SaveAll(t, mode, f); got != before[f] {
			t.Errorf("%s after cleanup:\n%s\nwant\n%s", f, got, before[f])
		}
	}
	if got := firewalltest.Sh(t, "", "ipset", "save"); got != caliSets {
		t.Errorf("ipsets after cleanup:\n%s\nwant\n%s", got, caliSets)
	}
	if slices.ContainsFunc(ipsetNames(t), func(n string) bool { return strings.HasPrefix(n, firewall.SetPrefix) }) {
		t.Error("an ipvsd set survived cleanup")
	}
	// Cleanup is idempotent.
	if err := fw.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDetectModeFollowsExistingRules: whichever back-end already holds the
// host's rules is the one we pick.
func TestDetectModeFollowsExistingRules(t *testing.T) {
	ctx := context.Background()
	if d, err := firewall.DetectMode(ctx, firewall.HostExec{}); err != nil || d.Mode != firewall.ModeNFT {
		t.Fatalf("empty namespace: %+v, %v; want nft", d, err)
	}
	firewalltest.Calico(t, firewall.ModeLegacy, podPool[ipvs.IPv4])
	if d, err := firewall.DetectMode(ctx, firewall.HostExec{}); err != nil || d.Mode != firewall.ModeLegacy {
		t.Fatalf("with legacy rules: %+v, %v; want legacy", d, err)
	}
}

// checkGolden compares got with its file under testdata/ (see internal/golden).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

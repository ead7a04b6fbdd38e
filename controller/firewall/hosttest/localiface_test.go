package hosttest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
)

// TestLocalInterfaceRules: with pods told apart by interface
// (detectLocalMode InterfaceNamePrefix / BridgeInterface), the real
// iptables prints our rules exactly as rendered, so a full resync finds
// no drift and rewrites nothing.
func TestLocalInterfaceRules(t *testing.T) {
	ctx := context.Background()
	for _, iface := range []string{"cali+", "cbr0"} {
		t.Run(strings.TrimSuffix(iface, "+"), func(t *testing.T) {
			fw, err := firewall.New(ctx, zaptest.NewLogger(t), firewall.Config{Mode: firewall.ModeNFT})
			if err != nil {
				t.Fatal(err)
			}
			// The namespace is the whole test binary's: leave it empty.
			t.Cleanup(func() {
				if err := fw.Cleanup(ctx); err != nil {
					t.Error(err)
				}
			})
			d := sample()
			d.LocalInterface = iface
			if _, err := fw.Sync(ctx, d); err != nil {
				t.Fatal(err)
			}
			rulesets, err := fw.Rulesets(d)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range families {
				ours, _ := firewalltest.Split(firewalltest.SaveAll(t, firewall.ModeNFT, f))
				var want strings.Builder
				for _, table := range rulesets[i].Tables {
					want.WriteString(strings.Join(table.Lines(), "\n") + "\n")
				}
				if diff := cmp.Diff(want.String(), ours); diff != "" {
					t.Errorf("%s: the kernel's rules differ from the rendered ones (-want +got):\n%s", f, diff)
				}
				if !strings.Contains(ours, "! -i "+iface+" ") {
					t.Errorf("%s: no interface match in\n%s", f, ours)
				}
			}
			res, err := fw.Check(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if res.ChainsRewritten != 0 {
				t.Errorf("check rewrote %d chains: the rendering does not match iptables-save", res.ChainsRewritten)
			}
		})
	}
}

package hosttest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
)

// hostState is both back-ends' tables in both families and every set.
func hostState(t *testing.T) string {
	t.Helper()
	var s string
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		for _, f := range families {
			s += "# " + string(m) + " " + f.String() + "\n" + firewalltest.SaveAll(t, m, f)
		}
	}
	return s + "# ipset\n" + firewalltest.Sh(t, "", "ipset", "save")
}

// TestCleanupKubeProxyHost: with the real tools in a private namespace,
// kube-proxy's IPVS-mode rules and sets (nft) and its iptables-mode
// leftovers (legacy) go, and every other line, Calico's, ipvsd's and the
// kubelet's, is byte for byte what it was.
func TestCleanupKubeProxyHost(t *testing.T) {
	ctx := context.Background()
	for _, f := range families {
		firewalltest.Calico(t, firewall.ModeNFT, podPool[f])
	}
	fw, err := firewall.New(ctx, zaptest.NewLogger(t), firewall.Config{Mode: firewall.ModeNFT})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Sync(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	firewalltest.KubeProxyIPVSIn(t, firewall.ModeNFT)
	firewalltest.KubeProxyIPTablesIn(t, firewall.ModeLegacy)
	t.Cleanup(func() {
		if err := fw.Cleanup(ctx); err != nil {
			t.Error(err)
		}
	})
	withKubeProxy := hostState(t)
	want := firewalltest.WithoutKubeProxy(withKubeProxy)
	if want == withKubeProxy {
		t.Fatal("the fixture put nothing of kube-proxy's in place")
	}
	modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
	rep, err := firewall.CleanupKubeProxy(ctx, zaptest.NewLogger(t), modes, firewall.HostCleanupTools(firewall.HostExec{}, ""))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, hostState(t)); diff != "" {
		t.Errorf("after the cleanup (-want +got):\n%s", diff)
	}
	if rep.Chains != 18 || rep.Jumps != 11 || len(rep.Sets) != 5 {
		t.Errorf("report %+v; want 18 chains, 11 jumps, 5 sets", rep)
	}
}

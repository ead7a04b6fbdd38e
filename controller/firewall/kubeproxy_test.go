package firewall_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// kubeProxyHost is a fake host with Calico's rules (nft), ipvsd's sample
// in the nft back-end, kube-proxy's IPVS mode in nft and what its
// iptables mode left in legacy (a node that ran both). want is the state
// without kube-proxy's lines: everything else, the kubelet's chains
// included, must stay as it is.
func kubeProxyHost(t *testing.T) (h *firewalltest.Host, want string) {
	t.Helper()
	h, _ = programmedHost(t)
	h.KubeProxyIPVS(t, firewall.ModeNFT)
	h.KubeProxyIPTables(t, firewall.ModeLegacy)
	return h, withoutKubeProxy(hostState(h))
}

// withoutKubeProxy is firewalltest.WithoutKubeProxy.
func withoutKubeProxy(state string) string { return firewalltest.WithoutKubeProxy(state) }

// TestCleanupKubeProxy: kube-proxy's chains, jumps and sets go from both
// back-ends; ipvsd's, Calico's and the kubelet's stay line for line.
func TestCleanupKubeProxy(t *testing.T) {
	h, want := kubeProxyHost(t)
	modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
	rep, err := firewall.CleanupKubeProxy(context.Background(), zaptest.NewLogger(t), modes, h.CleanupTools(nil, modes...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, hostState(h)); diff != "" {
		t.Errorf("after the cleanup (-want +got):\n%s", diff)
	}
	for _, kept := range []string{":KUBE-KUBELET-CANARY", ":KUBE-FIREWALL", "-A INPUT -j KUBE-FIREWALL", "IPVSD-", "create ipvsd-", "cali-"} {
		if !strings.Contains(hostState(h), kept) {
			t.Errorf("%q is gone", kept)
		}
	}
	// nft: nat 5 chains and 3 jumps, filter 6 and 6; legacy: nat 6 and
	// 2, mangle 1.
	if rep.Chains != 18 || rep.Jumps != 11 || len(rep.Sets) != 5 {
		t.Errorf("report %+v; want 18 chains, 11 jumps, 5 sets", rep)
	}
	// Nothing left: a second run removes nothing and fails nothing.
	rep, err = firewall.CleanupKubeProxy(context.Background(), zaptest.NewLogger(t), modes, h.CleanupTools(nil, modes...))
	if err != nil || rep.Chains != 0 || rep.Jumps != 0 || len(rep.Sets) != 0 {
		t.Errorf("second cleanup: %+v, %v", rep, err)
	}
}

// TestCleanupKubeProxyFailures: a refused table keeps its chains and the
// sets they reference, and says which; every other table, back-end and
// set is cleaned all the same.
func TestCleanupKubeProxyFailures(t *testing.T) {
	cases := []struct {
		name     string
		fail     string
		ipsetErr error
		wantErr  []string
		// left are kube-proxy's lines that must remain.
		left []string
	}{
		{
			name:    "nat refused",
			fail:    "-X KUBE-SERVICES",
			wantErr: []string{"iptables nft IPv4 table nat", "destroying ipset KUBE-CLUSTER-IP"},
			left:    []string{":KUBE-SERVICES", "create KUBE-CLUSTER-IP", "create KUBE-NODE-PORT-TCP"},
		},
		{
			name:     "no ipset",
			ipsetErr: errInjected,
			wantErr:  []string{"kube-proxy's ipsets: finding ipset"},
			left:     []string{"create KUBE-CLUSTER-IP", "create KUBE-LOOP-BACK"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, want := kubeProxyHost(t)
			if c.fail != "" {
				h.FailLine(c.fail, errInjected)
			}
			modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
			_, err := firewall.CleanupKubeProxy(context.Background(), zaptest.NewLogger(t), modes, h.CleanupTools(c.ipsetErr, modes...))
			if !errors.Is(err, errInjected) && !strings.Contains(errString(err), "in use") {
				t.Fatalf("got %v; want the failure reported", err)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q:\n%v", w, err)
				}
			}
			got := hostState(h)
			for _, l := range c.left {
				if !strings.Contains(got, l) {
					t.Errorf("%q was removed despite the failure", l)
				}
			}
			if ours := withoutKubeProxy(got); ours != want {
				t.Errorf("everything else changed (-want +got):\n%s", cmp.Diff(want, ours))
			}
			if legacy := h.SaveAll(firewall.ModeLegacy, ipvs.IPv4); withoutKubeProxy(legacy) != legacy {
				t.Errorf("the legacy back-end was not cleaned:\n%s", legacy)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestReadKubeProxySets: only kube-proxy's sets are read, entries as
// ipset prints them; an empty set is there with no entries.
func TestReadKubeProxySets(t *testing.T) {
	h, _ := kubeProxyHost(t)
	got, err := firewall.ReadKubeProxySets(context.Background(), h.IPSet())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"KUBE-CLUSTER-IP":             {"10.96.0.10,tcp:80", "10.96.0.11,tcp:9000"},
		"KUBE-LOOP-BACK":              {"10.244.1.2,tcp:8080,10.244.1.2"},
		"KUBE-NODE-PORT-TCP":          {"30080"},
		"KUBE-NODE-PORT-LOCAL-TCP":    {},
		"KUBE-HEALTH-CHECK-NODE-PORT": {},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kube-proxy's sets (-want +got):\n%s", diff)
	}
}

// TestKubeProxySetNames: kube-proxy's IPv6 names, cut to 31 bytes as it
// cuts them, are its; a longer name or another prefix is not.
func TestKubeProxySetNames(t *testing.T) {
	for name, want := range map[string]bool{
		"KUBE-CLUSTER-IP":                  true,
		"KUBE-6-CLUSTER-IP":                true,
		"KUBE-6-LOAD-BALANCER-SOURCE-CID":  true,
		"KUBE-6-NODE-PORT-LOCAL-SCTP-HAS":  true,
		"KUBE-6-LOAD-BALANCER-SOURCE-CIDR": false,
		"KUBE-CLUSTER-IPS":                 false,
		"kube-cluster-ip":                  false,
		"ipvsd-vs-v4":                      false,
	} {
		if got := firewall.IsKubeProxySet(name); got != want {
			t.Errorf("IsKubeProxySet(%q) = %v, want %v", name, got, want)
		}
	}
}

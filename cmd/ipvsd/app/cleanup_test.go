package app

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestCleanupContinuesWithoutIPVS: IPVS cannot be opened (no ip_vs
// module), yet our chains and sets are removed; the error names the IPVS
// part, and someone else's rules and sets stay exactly as they were.
func TestCleanupContinuesWithoutIPVS(t *testing.T) {
	h := firewalltest.NewHost()
	pool := netip.MustParsePrefix("10.244.0.0/16")
	h.Calico(t, firewall.ModeNFT, pool)
	before := h.SaveAll(firewall.ModeNFT, ipvs.IPv4) + h.IPSet().SaveAll()
	fw, err := firewall.NewWithTools(zaptest.NewLogger(t), firewall.Config{Mode: firewall.ModeNFT}, h.Tools(firewall.ModeNFT))
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("10.96.0.10")
	d := firewall.Desired{
		Services:     []firewall.VirtualServer{{Key: ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 80}, Kind: firewall.ClusterIP, HasEndpoints: true}},
		ClusterCIDRs: []netip.Prefix{pool},
	}
	if _, err := fw.Sync(context.Background(), d); err != nil {
		t.Fatal(err)
	}

	noIPVS := errors.New("opening IPVS: genetlink family IPVS: no such file or directory")
	var out bytes.Buffer
	err = cleanup(context.Background(), &out, zaptest.NewLogger(t), cleanupParts{
		ipvs:     func(context.Context) (reconciler.Result, error) { return reconciler.Result{}, noIPVS },
		modes:    []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy},
		firewall: h.CleanupTools(nil, firewall.ModeNFT),
	})
	if !errors.Is(err, noIPVS) || !strings.Contains(err.Error(), "removing virtual servers and addresses: opening IPVS") {
		t.Errorf("got %v; want the IPVS part named", err)
	}
	if got := h.SaveAll(firewall.ModeNFT, ipvs.IPv4) + h.IPSet().SaveAll(); got != before {
		t.Errorf("after cleanup:\n%s\nwant what was there before ipvsd:\n%s", got, before)
	}
	for _, want := range []string{"removed the IPVSD-* iptables chains (nft)\n", "removed the ipvsd-* ipsets\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCleanupRefusesUnknownMode(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runCleanup(context.Background(), &out, &errOut, cleanupFlags{iptablesMode: "nftables", logLevel: "info"})
	if err == nil || !strings.Contains(err.Error(), `"nftables"`) {
		t.Errorf("got %v; want the mode named", err)
	}
}

// TestCleanupBGPPart: the BGP withdrawal runs first, and its failure,
// named, does not keep the other parts from being cleaned.
func TestCleanupBGPPart(t *testing.T) {
	unreachable := errors.New("bgp: no session with [10.11.1.1]")
	var order []string
	var out bytes.Buffer
	err := cleanup(context.Background(), &out, zaptest.NewLogger(t), cleanupParts{
		bgp: func(context.Context) (int, error) { order = append(order, "bgp"); return 1, unreachable },
		ipvs: func(context.Context) (reconciler.Result, error) {
			order = append(order, "ipvs")
			return reconciler.Result{}, nil
		},
	})
	if !errors.Is(err, unreachable) || !strings.Contains(err.Error(), "withdrawing BGP routes: ") {
		t.Errorf("got %v; want the BGP part named", err)
	}
	if strings.Join(order, ",") != "bgp,ipvs" {
		t.Errorf("parts ran in the order %v, want bgp first, then ipvs", order)
	}
}

// TestCleanupRefusesBadConfig: an invalid --config stops cleanup before
// anything is touched.
func TestCleanupRefusesBadConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("services: []\nbgp: {asn: 1, peers: []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := runCleanup(context.Background(), &out, &errOut, cleanupFlags{iptablesMode: "none", logLevel: "info", config: bad, record: "/nonexistent/state.json"})
	if err == nil || !strings.Contains(err.Error(), "bgp.peers: at least one peer is required") || out.Len() != 0 {
		t.Errorf("got %v, output %q; want the file's mistake and nothing done", err, out.String())
	}
}

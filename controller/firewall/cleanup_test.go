package firewall_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// programmedHost is a fake host holding a Calico-like ruleset (nft) and
// sample() programmed by ipvsd in both back-ends, as after a switch of
// --iptables-mode, with our sets shared between them.
func programmedHost(t *testing.T) (h *firewalltest.Host, before string) {
	t.Helper()
	h = firewalltest.NewHost()
	for _, f := range families {
		h.Calico(t, firewall.ModeNFT, podPool[f])
	}
	before = hostState(h)
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		fw, err := firewall.NewWithTools(zaptest.NewLogger(t), firewall.Config{Mode: m}, h.Tools(m))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Sync(context.Background(), firewall.Sample()); err != nil {
			t.Fatal(err)
		}
	}
	if ours, _ := split(hostState(h)); !strings.Contains(ours, "IPVSD-") || !strings.Contains(ours, "create ipvsd-") {
		t.Fatalf("nothing of ours to clean up:\n%s", ours)
	}
	return h, before
}

// TestCleanupHostWithoutIPSet: with no ipset tool, our chains still go
// from both back-ends; the error names the ipsets, and the sets (which we
// cannot see) stay. Everyone else's rules and sets are untouched.
func TestCleanupHostWithoutIPSet(t *testing.T) {
	h, before := programmedHost(t)
	modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
	rep, err := firewall.CleanupHost(context.Background(), zaptest.NewLogger(t), modes, h.CleanupTools(exec.ErrNotFound, modes...))
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "ipsets: finding ipset") {
		t.Errorf("got %v; want the missing ipset reported", err)
	}
	if diff := cmp.Diff(firewall.CleanupReport{Chains: modes}, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	ours, others := split(hostState(h))
	_, othersBefore := split(before)
	if strings.Contains(ours, "IPVSD-") || !strings.Contains(ours, "create ipvsd-") {
		t.Errorf("want our chains gone and our sets left:\n%s", ours)
	}
	if diff := cmp.Diff(othersBefore, others); diff != "" {
		t.Errorf("someone else's state changed (-before +after):\n%s", diff)
	}
	// With ipset back, a second cleanup finishes the job.
	rep, err = firewall.CleanupHost(context.Background(), zaptest.NewLogger(t), modes, h.CleanupTools(nil, modes...))
	if err != nil || !rep.Sets {
		t.Fatalf("second cleanup: %+v, %v", rep, err)
	}
	if diff := cmp.Diff(before, hostState(h)); diff != "" {
		t.Errorf("after cleanup (-before +after):\n%s", diff)
	}
}

// TestCleanupHostContinuesPastFailures: a back-end that is not installed
// is skipped; a table whose restore fails is reported by back-end, family
// and table, and every other table, family and unreferenced set is still
// cleaned.
func TestCleanupHostContinuesPastFailures(t *testing.T) {
	h, before := programmedHost(t)
	// The legacy tools are gone (a package removed): its rules stay, and
	// they keep the sets they reference.
	h.FailLine("-X IPVSD-FORWARD", errInjected)
	modes := []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy}
	rep, err := firewall.CleanupHost(context.Background(), zaptest.NewLogger(t), modes, h.CleanupTools(nil, firewall.ModeNFT))
	if !errors.Is(err, errInjected) {
		t.Fatalf("got %v; want the injected failure", err)
	}
	for _, want := range []string{"iptables nft IPv4", "table filter", "ipsets: destroying ipset ipvsd-"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if len(rep.Chains) != 0 || rep.Sets {
		t.Errorf("report %+v; want nothing fully cleaned", rep)
	}
	nft4 := h.SaveAll(firewall.ModeNFT, ipvs.IPv4)
	if ours, _ := firewalltest.Split(nft4); !strings.Contains(ours, "IPVSD-FORWARD") || strings.Contains(ours, "IPVSD-POSTROUTING") {
		t.Errorf("nft IPv4: want only the refused filter table left with our chains:\n%s", ours)
	}
	if ours, _ := firewalltest.Split(h.SaveAll(firewall.ModeNFT, ipvs.IPv6)); ours != "" {
		t.Errorf("nft IPv6 not cleaned:\n%s", ours)
	}
	if ours, _ := firewalltest.Split(h.SaveAll(firewall.ModeLegacy, ipvs.IPv4)); !strings.Contains(ours, "IPVSD-") {
		t.Errorf("the legacy back-end, with no tools, was changed:\n%s", ours)
	}
	_, others := split(hostState(h))
	if _, othersBefore := split(before); others != othersBefore {
		t.Errorf("someone else's state changed:\n%s\nwant\n%s", others, othersBefore)
	}
}

// TestHostCleanupToolsFindInstalledNames: the host's finders use the names
// FindBinaries resolves; a back-end without tools is ErrNotInstalled (and
// skipped), a missing ipset is an error of its own.
func TestHostCleanupToolsFindInstalledNames(t *testing.T) {
	x := firewalltest.NewExec(firewalltest.Packaging{Plain: firewall.ModeNFT}, nil)
	tools := firewall.HostCleanupTools(x, "")
	ctx := context.Background()
	if _, err := tools.IPTables(ctx, firewall.ModeNFT, ipvs.IPv6); err != nil {
		t.Errorf("nft under its plain names: %v", err)
	}
	if _, err := tools.IPTables(ctx, firewall.ModeLegacy, ipvs.IPv4); !errors.Is(err, firewall.ErrNotInstalled) {
		t.Errorf("legacy: got %v; want ErrNotInstalled", err)
	}
	if _, err := tools.IPSet(ctx); !errors.Is(err, exec.ErrNotFound) || errors.Is(err, firewall.ErrNotInstalled) {
		t.Errorf("ipset: got %v; want not found, and not taken for a missing back-end", err)
	}
}

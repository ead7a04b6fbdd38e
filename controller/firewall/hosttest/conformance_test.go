package hosttest

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestFakeConformance keeps firewalltest.Host honest: one scenario (a
// Calico-like host, first sync, hand edits, check, a one-service change,
// cleanup) runs against the real tools and against the fake, and after
// every step both back-ends' iptables-save text and the ipset save text
// must be the same, as must what Firewall reports.
func TestFakeConformance(t *testing.T) {
	for _, mode := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		t.Run(string(mode), func(t *testing.T) { testFakeConformance(t, mode) })
	}
}

func testFakeConformance(t *testing.T, mode firewall.Mode) {
	ctx := context.Background()
	h := firewalltest.NewHost()
	for _, f := range families {
		firewalltest.Calico(t, mode, podPool[f])
		h.Calico(t, mode, podPool[f])
	}
	real, err := firewall.New(ctx, zaptest.NewLogger(t).Named("real"), firewall.Config{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	// Runs before Calico's cleanups, which t.Cleanup registered first.
	t.Cleanup(func() {
		if err := real.Cleanup(ctx); err != nil {
			t.Error(err)
		}
	})
	d := sample()
	tools := h.Tools(mode)
	// The fake's options follow what New found on this host.
	rulesets, err := real.Rulesets(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rulesets {
		tools.Options[rs.Family] = firewall.RenderOptions{RandomFully: strings.Contains(rs.String(), "--random-fully")}
	}
	fake, err := firewall.NewWithTools(zaptest.NewLogger(t).Named("fake"), firewall.Config{Mode: mode}, tools)
	if err != nil {
		t.Fatal(err)
	}

	compare := func(step string) {
		t.Helper()
		for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
			for _, f := range families {
				if diff := cmp.Diff(firewalltest.SaveAll(t, m, f), h.SaveAll(m, f)); diff != "" {
					t.Errorf("%s: %s %s iptables-save differs (-real +fake):\n%s", step, m, f, diff)
				}
			}
		}
		if diff := cmp.Diff(normalIPSetSave(firewalltest.Sh(t, "", "ipset", "save")), normalIPSetSave(h.IPSet().SaveAll())); diff != "" {
			t.Errorf("%s: ipset save differs (-real +fake):\n%s", step, diff)
		}
	}
	both := func(step string, op func(fw *firewall.Firewall) (firewall.Result, error)) {
		t.Helper()
		rr, rerr := op(real)
		fr, ferr := op(fake)
		if rerr != nil || ferr != nil || rr != fr {
			t.Errorf("%s: real %+v, %v; fake %+v, %v", step, rr, rerr, fr, ferr)
		}
		compare(step)
	}
	sync := func(d firewall.Desired) func(*firewall.Firewall) (firewall.Result, error) {
		return func(fw *firewall.Firewall) (firewall.Result, error) { return fw.Sync(ctx, d) }
	}
	compare("before")
	refusals(t, mode, h)
	compare("after refusals")
	both("first sync", sync(d))
	both("second sync", sync(d))

	// The same hand edits on both.
	edits := []struct {
		f    ipvs.Family
		text string
	}{
		{ipvs.IPv4, "*nat\n-D IPVSD-MASQ -j MARK --set-xmark 0x0/0x4000\nCOMMIT\n"},
		{ipvs.IPv6, "*filter\n-D FORWARD -j IPVSD-FORWARD\nCOMMIT\n"},
		{ipvs.IPv4, "*mangle\n-D PREROUTING -j IPVSD-PREROUTING\nCOMMIT\n"},
	}
	for _, e := range edits {
		firewalltest.Sh(t, e.text, firewalltest.Tool(mode, e.f, "restore"), "--noflush")
		if err := h.IPTables(mode, e.f).Restore(ctx, e.text); err != nil {
			t.Fatal(err)
		}
	}
	script := "del ipvsd-vs-v4 10.96.0.10,udp:53\nadd ipvsd-np-fwmark-v4 192.168.1.10,tcp:30080 skbmark 0x1234/0xbfff\nflush ipvsd-cluster-v6\n"
	firewalltest.Sh(t, script, "ipset", "restore", "-exist")
	if err := h.IPSet().Script(script, true); err != nil {
		t.Fatal(err)
	}
	compare("after hand edits")
	both("check", func(fw *firewall.Firewall) (firewall.Result, error) { return fw.Check(ctx, d) })

	changed := sample()
	changed.Services = append(changed.Services[1:], firewall.VirtualServer{Kind: firewall.LoadBalancerIP, HasEndpoints: true,
		Key: key("198.51.100.8", ipvs.UDP, 53), SourceRanges: prefixes("0.0.0.0/0")})
	changed.NodePortCIDRs = append(changed.NodePortCIDRs, netip.MustParsePrefix("10.0.0.0/8"))
	both("a change", sync(changed))
	both("cleanup", func(fw *firewall.Firewall) (firewall.Result, error) { return firewall.Result{}, fw.Cleanup(ctx) })
}

var initval = regexp.MustCompile(`initval 0x[0-9a-f]+`)

// normalIPSetSave makes `ipset save` text comparable: the kernel lists a
// set's entries in hash order and picks a random initval.
func normalIPSetSave(save string) string {
	var out, adds []string
	flush := func() {
		slices.Sort(adds)
		out = append(out, adds...)
		adds = nil
	}
	for _, l := range strings.Split(strings.TrimSuffix(save, "\n"), "\n") {
		if strings.HasPrefix(l, "add ") {
			adds = append(adds, l)
			continue
		}
		flush()
		out = append(out, initval.ReplaceAllString(l, "initval 0x0"))
	}
	flush()
	return strings.Join(out, "\n") + "\n"
}

// refusals runs input that the tools refuse, or accept only with -exist,
// against both, and requires the same verdict. The caller then compares
// what the failures left.
func refusals(t *testing.T, mode firewall.Mode, h *firewalltest.Host) {
	ctx := context.Background()
	for _, text := range []string{
		"*filter\n-A INPUT -j NOPE\nCOMMIT\n",
		"*filter\n-A INPUT -m set --match-set nope src -j DROP\nCOMMIT\n",
		"*filter\n-D INPUT -j ACCEPT\nCOMMIT\n",
		"*filter\n-X cali-INPUT\nCOMMIT\n",
		"*nat\n-A PREROUTING -j SET --map-set cali40all-hosts-net dst --map-mark\nCOMMIT\n",
		// Atomic per table; earlier tables stay committed.
		"*filter\n:IPVSD-Y - [0:0]\n-A IPVSD-Y -j NOPE\nCOMMIT\n",
		"*nat\n:IPVSD-Z - [0:0]\nCOMMIT\n*filter\n-A INPUT -j NOPE\nCOMMIT\n",
		"*nat\n-X IPVSD-Z\nCOMMIT\n",
	} {
		rerr := shErr(text, firewalltest.Tool(mode, ipvs.IPv4, "restore"), "--noflush")
		ferr := h.IPTables(mode, ipvs.IPv4).Restore(ctx, text)
		if (rerr == nil) != (ferr == nil) {
			t.Errorf("iptables-restore --noflush of\n%sreal: %v; fake: %v", text, rerr, ferr)
		}
	}
	for _, tc := range []struct {
		script string
		exist  bool
	}{
		{"add nope 1.2.3.4\n", true},
		{"create cali40all-hosts-net hash:net family inet\n", false},
		{"create cali40all-hosts-net hash:net family inet\n", true},
		{"create cali40all-hosts-net hash:ip family inet\n", true},
		{"add cali40masq-ipam-pools 10.244.0.0/16\n", false},
		{"add cali40masq-ipam-pools 10.244.0.0/16\n", true},
		{"del cali40all-hosts-net 192.0.2.0/24\n", false},
		{"del cali40all-hosts-net 192.0.2.0/24\n", true},
		{"add cali40all-hosts-net 1.2.3.4,tcp:80\n", true},
		{"add cali40all-hosts-net fd00::/64\n", true},
		{"add cali40all-hosts-net 192.0.2.0/24\nadd cali40all-hosts-net 0.0.0.0/0\n", true},
		{"add cali40all-hosts-net 198.51.100.0/24 skbmark 0x1\n", true},
		{"destroy cali40all-hosts-net\n", true},
		{"destroy nope\n", false},
		{"destroy nope\n", true},
	} {
		args := []string{"restore"}
		if tc.exist {
			args = append(args, "-exist")
		}
		rerr := shErr(tc.script, "ipset", args...)
		ferr := h.IPSet().Script(tc.script, tc.exist)
		if (rerr == nil) != (ferr == nil) {
			t.Errorf("ipset %v of\n%sreal: %v; fake: %v", args, tc.script, rerr, ferr)
		}
	}
}

// shErr runs a command that may fail.
func shErr(stdin, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

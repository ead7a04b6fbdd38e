//go:build lab

package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// foreignSet is not ours although it shares our prefix: an operator's.
const foreignSet = "ipvsd-operators-own"

// TestCleanupWithoutIPVS: ipvsd programmed a NAT service, then IPVS went
// away (its modules unloaded and not loadable). `ipvsd cleanup` must still
// remove our chains and sets, report the IPVS part it could not clean, and
// leave the other agent's chains and sets byte for byte.
func TestCleanupWithoutIPVS(t *testing.T) {
	w := newWorld(t)
	firewalltest.Calico(t, firewall.ModeNFT, pool)
	run(t, "ipset", "create", foreignSet, "hash:ip")
	run(t, "ipset", "add", foreignSet, "192.0.2.77")
	t.Cleanup(func() { _ = exec.Command("ipset", "destroy", foreignSet).Run() })
	before := foreign(t)

	d := w.start(t)
	w.waitServed(t, d)
	d.stop(t)
	if ours, _ := firewalltest.Split(firewalltest.SaveAll(t, firewall.ModeNFT, ipvs.IPv4)); ours == "" {
		t.Fatal("ipvsd programmed no chains")
	}
	ourSet := firewall.SetSpecs(ipvs.IPv4)[0].Name
	if !slices.Contains(strings.Fields(run(t, "ipset", "list", "-n")), ourSet) {
		t.Fatalf("ipvsd created no set %s", ourSet)
	}

	run(t, "ipvsadm", "-D", "-t", "192.0.2.10:80")
	unloadIPVS(t)
	out, err := exec.Command("ipvsd", "cleanup", "--record", w.record).CombinedOutput()
	t.Logf("ipvsd cleanup: %v\n%s", err, out)
	if err == nil {
		t.Error("cleanup succeeded although it could not reach IPVS")
	}
	for _, want := range []string{"removing virtual servers and addresses: opening IPVS",
		"removed the IPVSD-* iptables chains (nft)", "removed the ipvsd-* ipsets"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("cleanup output lacks %q", want)
		}
	}
	if got := foreign(t); got != before {
		t.Errorf("after cleanup:\n%s\nwant what was there before ipvsd:\n%s", got, before)
	}
}

// foreign is every ruleset of both back-ends and families, and `ipset
// save` of every set: before ipvsd runs, all of it is someone else's.
func foreign(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		for _, f := range families {
			b.WriteString("# " + string(m) + " " + f.String() + "\n" + firewalltest.SaveAll(t, m, f))
		}
	}
	b.WriteString("# ipset\n" + run(t, "ipset", "save"))
	return b.String()
}

// unloadIPVS removes the ip_vs module and every module using it, and hides
// their files so that nothing loads them again, as on a kernel built
// without IPVS; t.Cleanup puts them back.
func unloadIPVS(t *testing.T) {
	t.Helper()
	release, err := netlinkutil.KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("/lib/modules", release, "kernel/net/netfilter/ipvs")
	hidden := filepath.Join("/lib/modules", release, "ipvs.hidden")
	if err := os.Rename(dir, hidden); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Rename(hidden, dir); err != nil {
			t.Error(err)
		}
		for _, m := range []string{"ip_vs", "ip_vs_rr", "ip_vs_wrr"} {
			run(t, "modprobe", m)
		}
	})
	for _, m := range usersOf(t, "ip_vs") {
		run(t, "rmmod", m)
	}
	run(t, "rmmod", "ip_vs")
	if _, err := os.Stat("/proc/net/ip_vs"); !os.IsNotExist(err) {
		t.Fatalf("IPVS is still there after rmmod: %v", err)
	}
	if out, err := exec.Command("modprobe", "ip_vs").CombinedOutput(); err == nil {
		t.Fatalf("ip_vs can still be loaded: %s", out)
	}
}

// usersOf lists the modules that use module, from /proc/modules.
func usersOf(t *testing.T, module string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 3 && f[0] == module && f[3] != "-" {
			return strings.FieldsFunc(f[3], func(r rune) bool { return r == ',' })
		}
	}
	return nil
}

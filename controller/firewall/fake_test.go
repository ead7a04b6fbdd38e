package firewall_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

var (
	families = []ipvs.Family{ipvs.IPv4, ipvs.IPv6}
	podPool  = map[ipvs.Family]netip.Prefix{
		ipvs.IPv4: netip.MustParsePrefix("10.244.0.0/16"),
		ipvs.IPv6: netip.MustParsePrefix("fd00:244::/56"),
	}
	errInjected = errors.New("injected failure")
)

// fakeEnv is a Firewall of the nft back-end on a fake host that already
// holds a Calico-like ruleset in both families.
type fakeEnv struct {
	t      *testing.T
	h      *firewalltest.Host
	fw     *firewall.Firewall
	before string // the whole host before the firewall came
}

func newFakeEnv(t *testing.T) *fakeEnv {
	h := firewalltest.NewHost()
	for _, f := range families {
		h.Calico(t, firewall.ModeNFT, podPool[f])
	}
	fw, err := firewall.NewWithTools(zaptest.NewLogger(t), firewall.Config{Mode: firewall.ModeNFT}, h.Tools(firewall.ModeNFT))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeEnv{t: t, h: h, fw: fw, before: hostState(h)}
}

// hostState renders everything the fake holds: both back-ends, both
// families, every set.
func hostState(h *firewalltest.Host) string {
	var b strings.Builder
	for _, m := range []firewall.Mode{firewall.ModeNFT, firewall.ModeLegacy} {
		for _, f := range families {
			b.WriteString("# " + string(m) + " " + f.String() + "\n" + h.SaveAll(m, f))
		}
	}
	b.WriteString("# ipset\n" + h.IPSet().SaveAll())
	return b.String()
}

// split separates our lines (rules and sets) of hostState from the rest.
func split(state string) (ours, others string) {
	var o, e strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(state, "\n"), "\n") {
		f := strings.Fields(l)
		set := len(f) > 1 && (f[0] == "create" || f[0] == "add") && strings.HasPrefix(f[1], firewall.SetPrefix)
		if firewall.IsOurLine(l) || set {
			o.WriteString(l + "\n")
		} else {
			e.WriteString(l + "\n")
		}
	}
	return o.String(), e.String()
}

// want is our part of hostState once d is applied: the rendered rules in
// the nft back-end and every set of DesiredSets, entries in the fake's
// (sorted) order.
func (e *fakeEnv) want(d firewall.Desired) string {
	e.t.Helper()
	rulesets, err := e.fw.Rulesets(d)
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, rs := range rulesets {
		for _, table := range rs.Tables {
			b.WriteString(strings.Join(table.Lines(), "\n") + "\n")
		}
	}
	d.Defaults()
	for _, f := range families {
		for _, s := range firewall.DesiredSets(&d, f) {
			fam, opts := "inet", ""
			if f == ipvs.IPv6 {
				fam = "inet6"
			}
			if s.SkbInfo {
				opts = " skbinfo"
			}
			b.WriteString("create " + s.Name + " " + string(s.Type) + " family " + fam + " hashsize 1024 maxelem 1048576" + opts + " bucketsize 12 initval 0x00000000\n")
			var adds []string
			for _, en := range s.Entries {
				adds = append(adds, "add "+s.Name+" "+en.String()+en.Extensions()+"\n")
			}
			slices.Sort(adds)
			b.WriteString(strings.Join(adds, ""))
		}
	}
	return b.String()
}

// check compares the fake with d applied, and everyone else's state with
// what it was before.
func (e *fakeEnv) check(step string, d firewall.Desired) {
	e.t.Helper()
	ours, others := split(hostState(e.h))
	if diff := cmp.Diff(e.want(d), ours); diff != "" {
		e.t.Errorf("%s: our rules and sets differ (-want +got):\n%s", step, diff)
	}
	_, othersBefore := split(e.before)
	if diff := cmp.Diff(othersBefore, others); diff != "" {
		e.t.Errorf("%s: someone else's state changed (-before +after):\n%s", step, diff)
	}
}

func (e *fakeEnv) sync(step string, d firewall.Desired, want firewall.Result) {
	e.t.Helper()
	if res, err := e.fw.Sync(context.Background(), d); err != nil || res != want {
		e.t.Errorf("%s: Sync = %+v, %v; want %+v", step, res, err, want)
	}
}

func (e *fakeEnv) checkSync(step string, d firewall.Desired, want firewall.Result) {
	e.t.Helper()
	if res, err := e.fw.Check(context.Background(), d); err != nil || res != want {
		e.t.Errorf("%s: Check = %+v, %v; want %+v", step, res, err, want)
	}
}

func (e *fakeEnv) ipt(f ipvs.Family, text string) {
	e.t.Helper()
	if err := e.h.IPTables(firewall.ModeNFT, f).Restore(context.Background(), text); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fakeEnv) ipset(script string) {
	e.t.Helper()
	if err := e.h.IPSet().Script(script, false); err != nil {
		e.t.Fatal(err)
	}
}

func totalEntries(d firewall.Desired) int {
	d.Defaults()
	n := 0
	for _, f := range families {
		for _, s := range firewall.DesiredSets(&d, f) {
			n += len(s.Entries)
		}
	}
	return n
}

// TestFakeLifecycle drives a Firewall through first sync, no-op syncs, a
// one-service change, repairs of hand edits and cleanup, checking after
// each step the whole fake host: our rules and sets exactly as rendered,
// everyone else's byte for byte as before.
func TestFakeLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	d := firewall.Sample()
	nSets := 2 * len(firewall.SetSpecs(ipvs.IPv4))

	// Seven jumps (three nat, three filter, one mangle) and three tables
	// per family.
	e.sync("first sync", d, firewall.Result{SetsCreated: nSets, EntriesAdded: totalEntries(d), ChainsRewritten: 6, JumpsInserted: 14})
	e.check("after the first sync", d)
	e.sync("second sync", d, firewall.Result{})
	e.checkSync("no-op check", d, firewall.Result{})

	// One service more, then less: vips and vs, nothing else.
	more := firewall.Sample()
	more.Services = append(more.Services, firewall.VirtualServer{
		Kind: firewall.ClusterIP, HasEndpoints: true,
		Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.97.0.1"), Protocol: ipvs.TCP, Port: 443}})
	e.sync("one service added", more, firewall.Result{EntriesAdded: 2})
	e.checkSync("check after adding", more, firewall.Result{})
	e.check("after adding a service", more)
	e.sync("one service removed", d, firewall.Result{EntriesDeleted: 2})
	e.check("after removing it", d)

	// Hand edits: one of our rules, one of our jumps and one set entry
	// go, and one entry's mark changes.
	e.ipt(ipvs.IPv4, "*nat\n-D IPVSD-MASQ -j MASQUERADE --random-fully\nCOMMIT\n")
	e.ipt(ipvs.IPv6, "*filter\n-D FORWARD -j IPVSD-FORWARD\nCOMMIT\n")
	e.ipset("del ipvsd-vs-v4 10.96.0.10,udp:53\n")
	if err := e.h.IPSet().Script("add ipvsd-np-fwmark-v4 192.168.1.10,udp:30091 skbmark 0x1234/0xbfff\n", true); err != nil {
		t.Fatal(err)
	}
	// Sync trusts what it applied for the sets; Check looks again.
	e.sync("sync after hand edits", d, firewall.Result{ChainsRewritten: 1, JumpsInserted: 1})
	e.ipt(ipvs.IPv6, "*filter\n-D FORWARD -j IPVSD-FORWARD\nCOMMIT\n")
	e.checkSync("check after hand edits", d, firewall.Result{EntriesAdded: 2, JumpsInserted: 1})
	e.check("after repairing hand edits", d)

	// A whole chain deleted (the jump into it first, as the kernel
	// insists), and a set flushed (it cannot be destroyed while our
	// rules use it): both come back.
	e.ipt(ipvs.IPv4, "*filter\n-D INPUT -j IPVSD-INPUT\n-F IPVSD-INPUT\n-X IPVSD-INPUT\nCOMMIT\n")
	e.sync("deleted chain", d, firewall.Result{ChainsRewritten: 1, JumpsInserted: 1})
	e.ipset("flush ipvsd-vips-v6\n")
	e.checkSync("flushed set", d, firewall.Result{EntriesAdded: 2})
	e.check("after restoring a chain and a set", d)

	if err := e.fw.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e.before, hostState(e.h)); diff != "" {
		t.Errorf("cleanup left the host changed (-before +after):\n%s", diff)
	}
	if err := e.fw.Cleanup(ctx); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}

// TestFakeIPSetFailureMidSync: ipset dies half-way through the first
// sync's batch. The error names the sets and wraps the tool's; the rules
// are not touched (they would reference missing sets); a retry lists what
// the batch left and converges.
func TestFakeIPSetFailureMidSync(t *testing.T) {
	e := newFakeEnv(t)
	d := firewall.Sample()
	e.h.FailLine("add ipvsd-lb-src-v4", errInjected)
	_, err := e.fw.Sync(context.Background(), d)
	var le *firewalltest.LineError
	if !errors.Is(err, errInjected) || !errors.As(err, &le) || !strings.Contains(err.Error(), "ipvsd-lb-src-v4") {
		t.Fatalf("Sync = %v; want the injected failure, naming ipvsd-lb-src-v4", err)
	}
	if ours, _ := split(e.h.SaveAll(firewall.ModeNFT, ipvs.IPv4)); ours != "" {
		t.Errorf("rules programmed although the sets failed:\n%s", ours)
	}
	res, err := e.fw.Sync(context.Background(), d)
	if err != nil || res.SetsCreated != 0 || res.EntriesAdded == 0 || res.EntriesAdded >= totalEntries(d) || res.ChainsRewritten != 6 {
		t.Errorf("retry: %+v, %v; want the rest of the entries and every table", res, err)
	}
	e.checkSync("check after retry", d, firewall.Result{})
	e.check("after retry", d)
}

// TestFakeIPTablesFailureMidSync: iptables-restore dies in one table. That
// table is left as it was (restore commits per table), the others are
// synced, and the error names the family, table and chains.
func TestFakeIPTablesFailureMidSync(t *testing.T) {
	e := newFakeEnv(t)
	d := firewall.Sample()
	e.h.FailLine("-A IPVSD-INPUT", errInjected)
	res, err := e.fw.Sync(context.Background(), d)
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "IPv4 table filter") || !strings.Contains(err.Error(), "IPVSD-INPUT") {
		t.Fatalf("Sync = %v; want the injected failure, naming IPv4 table filter and IPVSD-INPUT", err)
	}
	if res.ChainsRewritten != 5 || res.JumpsInserted != 11 {
		t.Errorf("failed sync: %+v; want the five other tables done", res)
	}
	if ours, _ := split(e.h.SaveAll(firewall.ModeNFT, ipvs.IPv4)); strings.Contains(ours, "IPVSD-INPUT") {
		t.Errorf("the failed table was half-written:\n%s", ours)
	}
	e.sync("retry", d, firewall.Result{ChainsRewritten: 1, JumpsInserted: 3})
	e.check("after retry", d)
}

// TestFakeSetOfWrongType: a set of ours that exists with another type is
// reported and nothing is changed; once it is gone, sync converges.
func TestFakeSetOfWrongType(t *testing.T) {
	e := newFakeEnv(t)
	d := firewall.Sample()
	e.ipset("create ipvsd-vs-v4 hash:ip family inet\nadd ipvsd-vs-v4 10.96.0.10\n")
	before := hostState(e.h)
	if _, err := e.fw.Sync(context.Background(), d); err == nil || !strings.Contains(err.Error(), "ipvsd-vs-v4 exists as hash:ip") {
		t.Fatalf("Sync = %v; want the set of the wrong type named", err)
	}
	if diff := cmp.Diff(before, hostState(e.h)); diff != "" {
		t.Errorf("a refused sync changed the host (-before +after):\n%s", diff)
	}
	e.ipset("destroy ipvsd-vs-v4\n")
	e.sync("retry", d, firewall.Result{SetsCreated: 26, EntriesAdded: totalEntries(d), ChainsRewritten: 6, JumpsInserted: 14})
	e.check("after retry", d)
}

// TestFakeStaleChainStillReferenced: a chain of ours that is no longer
// wanted is removed with its jump; while someone else's rule still jumps
// to it the kernel refuses (EBUSY), and the error says so.
func TestFakeStaleChainStillReferenced(t *testing.T) {
	e := newFakeEnv(t)
	d := firewall.Sample()
	e.sync("first sync", d, firewall.Result{SetsCreated: 26, EntriesAdded: totalEntries(d), ChainsRewritten: 6, JumpsInserted: 14})
	e.ipt(ipvs.IPv4, "*filter\n:IPVSD-OLD - [0:0]\n-A IPVSD-OLD -j ACCEPT\n-A INPUT -j IPVSD-OLD\n-A FORWARD -p tcp -j IPVSD-OLD\nCOMMIT\n")
	_, err := e.fw.Sync(context.Background(), d)
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "IPVSD-OLD") {
		t.Fatalf("Sync = %v; want EBUSY naming IPVSD-OLD", err)
	}
	e.ipt(ipvs.IPv4, "*filter\n-D FORWARD -p tcp -j IPVSD-OLD\nCOMMIT\n")
	e.sync("retry", d, firewall.Result{ChainsRewritten: 1})
	e.check("after retry", d)
}

func TestNewWithToolsNeedsMode(t *testing.T) {
	h := firewalltest.NewHost()
	if _, err := firewall.NewWithTools(zaptest.NewLogger(t), firewall.Config{}, h.Tools(firewall.ModeNFT)); err == nil {
		t.Error("NewWithTools accepted ModeAuto")
	}
	if _, err := firewall.NewWithTools(zaptest.NewLogger(t), firewall.Config{Mode: firewall.ModeLegacy}, firewall.Tools{}); err == nil {
		t.Error("NewWithTools accepted no tools")
	}
}

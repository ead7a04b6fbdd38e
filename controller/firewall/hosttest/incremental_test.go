package hosttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// ourSave is `ipset save` of our sets, lines sorted: the real kernel's
// view, to compare two ways of getting there.
func ourSave(t testing.TB) string {
	t.Helper()
	var script strings.Builder
	for _, s := range firewall.SetSpecs(ipvs.IPv4) {
		script.WriteString("list " + s.Name + " -o save\n")
	}
	lines := strings.Split(strings.TrimSpace(firewalltest.Sh(t, script.String(), "ipset", "restore")), "\n")
	for i, l := range lines {
		// The hash's seed is random and its size grows with the
		// entries: neither is ours to compare.
		if f := strings.Fields(l); len(f) > 0 && f[0] == "create" {
			f = slices.DeleteFunc(f, func(w string) bool { return strings.HasPrefix(w, "0x") })
			lines[i] = strings.Join(slices.DeleteFunc(f, func(w string) bool { return w == "initval" }), " ")
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestIncrementalMatchesWholeSync: among 2,000 services, updates that add
// a service, remove one whose VIP and hairpin others share, change a
// source range and take a node port's local endpoints away each write
// their own entries alone; afterwards the real ipset holds what a whole
// sync of the same state from scratch gives, line for line.
func TestIncrementalMatchesWholeSync(t *testing.T) {
	ctx := context.Background()
	fw := newIPv4Firewall(t)
	st := firewalltest.Services(2000)
	start := time.Now()
	if _, err := fw.Repair(ctx, st.Whole()); err != nil {
		t.Fatal(err)
	}
	t.Logf("2,000 services from empty: %v", time.Since(start))

	added := firewall.Part{Services: []firewall.VirtualServer{{Key: key("10.97.0.1", ipvs.TCP, 443), Kind: firewall.ClusterIP, HasEndpoints: true}}}
	lb := firewalltest.ServicePart(50)
	lb.Services[0].SourceRanges = prefixes("198.51.100.0/24")
	np := firewalltest.ServicePart(40)
	np.Services[1].HasLocalEndpoints = false
	for _, step := range []struct {
		name    string
		parts   map[string]firewall.Part
		changed int
	}{
		// vips, vs
		{"a service added", map[string]firewall.Part{"ns/new": added}, 2},
		// svc-6 shares svc-5's VIP, svc-1 svc-0's hairpin, which stay:
		// vs, and vips and vs
		{"services sharing entries removed", map[string]firewall.Part{firewalltest.Owner(6): {}, firewalltest.Owner(1): {}}, 1 + 2},
		// lb-src: one range for two, and the VIP's own entry goes with
		// the range that held the node's address
		{"a source range changed", map[string]firewall.Part{firewalltest.Owner(50): lb}, 1 + 3},
		// its np-fwmark entry's mark, in place
		{"a node port's local endpoints gone", map[string]firewall.Part{firewalltest.Owner(40): np}, 1},
	} {
		u := firewall.Update{Options: st.Options, Parts: step.parts}
		start := time.Now()
		res, err := fw.Apply(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		t.Logf("%s: %+v in %v", step.name, res, time.Since(start))
		if res.EntriesChanged() != step.changed || res.ChainsRewritten+res.JumpsInserted != 0 {
			t.Errorf("%s: %+v; want %d entries and no rule", step.name, res, step.changed)
		}
		st.Apply(u)
	}
	incremental := ourSave(t)

	if err := fw.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := newIPv4Firewall(t)
	if _, err := fresh.Sync(ctx, st.Desired()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ourSave(t), incremental); diff != "" {
		t.Errorf("sets after the updates differ from a whole sync from scratch (-whole +updates):\n%s", diff)
	}
	if !strings.Contains(incremental, "add ipvsd-vs-v4 10.97.0.1,tcp:443") || !strings.Contains(incremental, "add ipvsd-hairpin-v4 10.244.0.0,tcp:8080,10.244.0.0") {
		t.Errorf("the added service or the shared hairpin is missing:\n%s", incremental)
	}
}

// BenchmarkOneServiceAdd: one service added to, then removed from, n
// programmed ones in the real ipset, through a whole Sync (what the
// daemon did before updates by owner: every set diffed, the rules read
// back) and through Apply. Each op is the add and the remove, 4 ipset
// lines either way.
func BenchmarkOneServiceAdd(b *testing.B) {
	ctx := context.Background()
	extra := firewall.Part{Services: []firewall.VirtualServer{{Key: key("10.97.0.1", ipvs.TCP, 443), Kind: firewall.ClusterIP, HasEndpoints: true}}}
	for _, n := range []int{1000, 10000} {
		o := firewalltest.NewService(n, extra)
		for _, mode := range []struct {
			name string
			do   func(*firewall.Firewall, bool) (firewall.Result, error)
		}{
			{"whole", func(fw *firewall.Firewall, in bool) (firewall.Result, error) {
				if in {
					return fw.Sync(ctx, o.With.Desired())
				}
				return fw.Sync(ctx, o.Without.Desired())
			}},
			{"update", func(fw *firewall.Firewall, in bool) (firewall.Result, error) {
				if in {
					return fw.Apply(ctx, o.Add)
				}
				return fw.Apply(ctx, o.Del)
			}},
		} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, n), func(b *testing.B) {
				fw := newIPv4Firewall(b)
				if _, err := fw.Repair(ctx, o.Without.Whole()); err != nil {
					b.Fatal(err)
				}
				// One round first: the first partial update after the
				// firewall opens counts every entry once.
				for _, in := range []bool{true, false} {
					if _, err := mode.do(fw, in); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for range b.N {
					for _, in := range []bool{true, false} {
						if res, err := mode.do(fw, in); err != nil || res.EntriesChanged() != 2 {
							b.Fatalf("%+v, %v; want 2 entries", res, err)
						}
					}
				}
			})
		}
	}
}

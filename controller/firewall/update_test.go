package firewall_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// toolCounts counts what a Firewall asks of its tools: ipset lines
// written and listings, iptables saves and restores.
type toolCounts struct {
	mu                                 sync.Mutex
	setLines, setRuns, setReads, iptOp int
}

// runs is how many processes the tools ran since the last take.
func (c *toolCounts) runs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setRuns + c.setReads + c.iptOp
}

func (c *toolCounts) take() (setLines, setReads, iptOps int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	setLines, setReads, iptOps = c.setLines, c.setReads, c.iptOp
	c.setLines, c.setRuns, c.setReads, c.iptOp = 0, 0, 0, 0
	return setLines, setReads, iptOps
}

type countingIPSet struct {
	firewall.IPSet
	c *toolCounts
}

func (s countingIPSet) Names(ctx context.Context) ([]string, error) {
	s.c.mu.Lock()
	s.c.setReads++
	s.c.mu.Unlock()
	return s.IPSet.Names(ctx)
}

func (s countingIPSet) Save(ctx context.Context, names []string) (string, error) {
	s.c.mu.Lock()
	s.c.setReads++
	s.c.mu.Unlock()
	return s.IPSet.Save(ctx, names)
}

func (s countingIPSet) Restore(ctx context.Context, script string) error {
	s.c.mu.Lock()
	s.c.setLines += strings.Count(script, "\n")
	s.c.setRuns++
	s.c.mu.Unlock()
	return s.IPSet.Restore(ctx, script)
}

type countingIPTables struct {
	firewall.IPTables
	c *toolCounts
}

func (t countingIPTables) Save(ctx context.Context, table string) (string, error) {
	t.c.mu.Lock()
	t.c.iptOp++
	t.c.mu.Unlock()
	return t.IPTables.Save(ctx, table)
}

func (t countingIPTables) Restore(ctx context.Context, text string) error {
	t.c.mu.Lock()
	t.c.iptOp++
	t.c.mu.Unlock()
	return t.IPTables.Restore(ctx, text)
}

// countedTools wraps h's tools with counters.
func countedTools(h *firewalltest.Host, c *toolCounts) firewall.Tools {
	tools := h.Tools(firewall.ModeNFT)
	tools.IPSet = countingIPSet{tools.IPSet, c}
	for f, ipt := range tools.IPTables {
		tools.IPTables[f] = countingIPTables{ipt, c}
	}
	return tools
}

// newCountedEnv is newFakeEnv with its tools counted.
func newCountedEnv(t testing.TB, log *zap.Logger) (*fakeEnv, *toolCounts) {
	tt, _ := t.(*testing.T)
	h := firewalltest.NewHost()
	for _, f := range families {
		h.Calico(t, firewall.ModeNFT, podPool[f])
	}
	c := &toolCounts{}
	fw, err := firewall.NewWithTools(log, firewall.Config{Mode: firewall.ModeNFT}, countedTools(h, c))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeEnv{t: tt, h: h, fw: fw, before: hostState(h)}, c
}

// TestApplyCostFollowsChange: once n services are programmed, an update
// of one service writes that service's entries alone, in one ipset
// restore, and runs no listing and no iptables, whatever n; an update of
// nothing runs no tool at all. After each step the fake holds exactly
// what a whole sync of the state computes.
func TestApplyCostFollowsChange(t *testing.T) {
	ctx := context.Background()
	lb := firewall.VirtualServer{Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("198.51.100.9"), Protocol: ipvs.TCP, Port: 443},
		Kind: firewall.LoadBalancerIP, HasEndpoints: true, SourceRanges: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	lb2 := lb
	lb2.SourceRanges = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	for _, n := range []int{100, 1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e, c := newCountedEnv(t, zap.NewNop())
			st := firewalltest.Services(n)
			if _, err := e.fw.Repair(ctx, st.Whole()); err != nil {
				t.Fatal(err)
			}
			c.take()
			for _, step := range []struct {
				name  string
				parts map[string]firewall.Part
				lines int
			}{
				// vips and vs
				{"a cluster IP added", map[string]firewall.Part{"ns/new": {Services: []firewall.VirtualServer{{
					Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.97.0.1"), Protocol: ipvs.TCP, Port: 80}, HasEndpoints: true}}}}, 2},
				{"it is removed", map[string]firewall.Part{"ns/new": {}}, 2},
				// vips, vs, lb-fw, lb-src
				{"a load balancer added", map[string]firewall.Part{"ns/lb": {Services: []firewall.VirtualServer{lb}}}, 4},
				// one lb-src entry for another
				{"its source range changed", map[string]firewall.Part{"ns/lb": {Services: []firewall.VirtualServer{lb2}}}, 2},
				// vs-noep
				{"a service loses its endpoints", map[string]firewall.Part{firewalltest.Owner(1): func() firewall.Part {
					p := firewalltest.ServicePart(1)
					p.Services = []firewall.VirtualServer{p.Services[0]}
					p.Services[0].HasEndpoints = false
					return p
				}()}, 1},
				// svc-1's hairpin backend is svc-0's: it stays; vips,
				// vs and vs-noep go.
				{"a service with a shared hairpin deleted", map[string]firewall.Part{firewalltest.Owner(1): {}}, 3},
				{"nothing", nil, 0},
			} {
				u := firewall.Update{Options: st.Options, Parts: step.parts}
				res, err := e.fw.Apply(ctx, u)
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				st.Apply(u)
				lines, reads, ipt := c.take()
				if lines != step.lines || res.EntriesChanged() != step.lines || reads != 0 || ipt != 0 {
					t.Errorf("%s: %d ipset lines (result %+v), %d ipset listings, %d iptables runs; want %d lines and nothing else",
						step.name, lines, res, reads, ipt, step.lines)
				}
				e.check(step.name, st.Desired())
			}
			if res, err := e.fw.Repair(ctx, st.Whole()); err != nil || res != (firewall.Result{}) {
				t.Errorf("repair after the updates: %+v, %v; want nothing to repair", res, err)
			}
		})
	}
}

// TestApplyMatchesWholeSync: a seeded random walk of updates over owners
// that share VIPs, node ports and hairpins, with a whole repair now and
// then, leaves after every update exactly what a whole sync of the state
// computes.
func TestApplyMatchesWholeSync(t *testing.T) {
	ctx := context.Background()
	e, _ := newCountedEnv(t, zap.NewNop())
	rng := rand.New(rand.NewPCG(15, 2))
	// A small universe, so that owners keep meeting on one element.
	pick := func() firewall.Part {
		var p firewall.Part
		for range rng.IntN(3) {
			p.Services = append(p.Services, firewalltest.ServicePart(rng.IntN(60)).Services...)
		}
		if rng.IntN(3) == 0 {
			p.Hairpins = firewalltest.ServicePart(100 * rng.IntN(2)).Hairpins
		}
		return p
	}
	st := firewalltest.Services(0)
	if _, err := e.fw.Repair(ctx, st.Whole()); err != nil {
		t.Fatal(err)
	}
	for step := range 300 {
		u := firewall.Update{Options: st.Options, Parts: map[string]firewall.Part{}}
		for range 1 + rng.IntN(3) {
			u.Parts[fmt.Sprintf("o%d", rng.IntN(12))] = pick()
		}
		apply := e.fw.Apply
		if step%25 == 24 {
			// A full resync's whole update, changing some owners and
			// dropping one: the counts follow it without a recount,
			// and the partial updates after it stay right.
			w := st.Whole()
			for o, p := range u.Parts {
				w.Parts[o] = p
			}
			delete(w.Parts, fmt.Sprintf("o%d", rng.IntN(12)))
			u, apply = w, e.fw.Repair
		}
		if _, err := apply(ctx, u); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		st.Apply(u)
		e.check(fmt.Sprintf("step %d", step), st.Desired())
		if t.Failed() {
			t.FailNow()
		}
	}
}

// TestApplyRefusesABadPart: an invalid part is refused with its owner
// named, and that owner keeps its previous part; the rest is applied.
func TestApplyRefusesABadPart(t *testing.T) {
	ctx := context.Background()
	e, _ := newCountedEnv(t, zap.NewNop())
	st := firewalltest.Services(20)
	if _, err := e.fw.Repair(ctx, st.Whole()); err != nil {
		t.Fatal(err)
	}
	bad := firewalltest.ServicePart(3)
	bad.Services[0].Key.Port = 0
	u := firewall.Update{Options: st.Options, Parts: map[string]firewall.Part{
		firewalltest.Owner(3): bad, firewalltest.Owner(4): {}}}
	_, err := e.fw.Apply(ctx, u)
	if err == nil || !strings.Contains(err.Error(), firewalltest.Owner(3)) || !strings.Contains(err.Error(), "port 0") ||
		strings.Contains(err.Error(), firewalltest.Owner(4)) {
		t.Fatalf("Apply = %v; want an error naming %s and its port 0 alone", err, firewalltest.Owner(3))
	}
	st.Apply(firewall.Update{Options: st.Options, Parts: map[string]firewall.Part{firewalltest.Owner(4): {}}})
	e.check("after a bad part", st.Desired())
}

// TestApplyAfterFailedWrite: an update whose ipset batch fails is
// reported; the next update, even an empty one, compares the sets with
// the kernel and converges.
func TestApplyAfterFailedWrite(t *testing.T) {
	ctx := context.Background()
	e, c := newCountedEnv(t, zap.NewNop())
	st := firewalltest.Services(50)
	if _, err := e.fw.Repair(ctx, st.Whole()); err != nil {
		t.Fatal(err)
	}
	e.h.FailLine("add ipvsd-vs-v4 10.97.", errInjected)
	u := firewall.Update{Options: st.Options, Parts: map[string]firewall.Part{"ns/new": {Services: []firewall.VirtualServer{{
		Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.97.0.1"), Protocol: ipvs.TCP, Port: 80}, HasEndpoints: true}}}}}
	if _, err := e.fw.Apply(ctx, u); !errors.Is(err, errInjected) {
		t.Fatalf("Apply = %v; want the injected failure", err)
	}
	st.Apply(u)
	c.take()
	if _, err := e.fw.Apply(ctx, firewall.Update{Options: st.Options}); err != nil {
		t.Fatal(err)
	}
	if _, reads, _ := c.take(); reads == 0 {
		t.Error("the update after a failed write did not list the kernel")
	}
	e.check("after the retry", st.Desired())
}

// TestApplyOptionsChanged: an update that changes the options recomputes
// every set and the rules.
func TestApplyOptionsChanged(t *testing.T) {
	ctx := context.Background()
	e, c := newCountedEnv(t, zap.NewNop())
	st := firewalltest.Services(50)
	if _, err := e.fw.Repair(ctx, st.Whole()); err != nil {
		t.Fatal(err)
	}
	c.take()
	st.Options.NodePortCIDRs = append(st.Options.NodePortCIDRs, netip.MustParsePrefix("172.16.0.0/12"))
	st.Options.MasqueradeAll = true
	res, err := e.fw.Apply(ctx, firewall.Update{Options: st.Options})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ipt := c.take(); ipt == 0 || res.ChainsRewritten == 0 || res.EntriesAdded == 0 {
		t.Errorf("options changed: %+v, %d iptables runs; want the rules and the node-port entries rewritten", res, ipt)
	}
	e.check("after the options changed", st.Desired())
}

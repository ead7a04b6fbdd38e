//go:build lab

package reconciler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
)

// randomState draws a desired state over a small space of VIPs, ports and
// backends, so that successive states overlap (updates in place, adds and
// deletes all happen) rather than replacing everything.
func randomState(r *rand.Rand) desired.State {
	scheds := []string{"rr", "wrr", "lc", "wlc", "sh", "mh", "sed", "nq"}
	var d desired.State
	for v := 0; v < 3; v++ {
		for _, port := range []uint16{80, 443, 53} {
			if r.IntN(3) == 0 {
				continue
			}
			vip := netip.AddrFrom4([4]byte{10, 96, 0, byte(10 + v)})
			proto := ipvs.TCP
			if port == 53 {
				proto = ipvs.UDP
			}
			if v == 2 {
				vip = netip.MustParseAddr(fmt.Sprintf("fd00:96::%d", 10+v))
			}
			vs := desired.VirtualServer{
				Service: ipvs.Service{
					Key:       ipvs.Key{Family: ipvs.FamilyOf(vip), Address: vip, Protocol: proto, Port: port},
					Scheduler: scheds[r.IntN(len(scheds))],
				},
				Owner:        fmt.Sprintf("seq/%s:%d", vip, port),
				DrainTimeout: -1, // no traffic here: delete at once
			}
			switch vs.Scheduler {
			case "sh":
				if r.IntN(2) == 0 {
					vs.Flags |= ipvs.FlagSHPort
				}
			case "mh":
				if r.IntN(2) == 0 {
					vs.Flags |= ipvs.FlagMHFallback
				}
			}
			if r.IntN(4) == 0 {
				vs.Timeout = uint32(60 * (1 + r.IntN(5)))
			}
			for b := 0; b < 6; b++ {
				if r.IntN(2) == 0 {
					continue
				}
				addr := netip.AddrFrom4([4]byte{10, 100, byte(b), 2})
				if vip.Is6() {
					addr = netip.MustParseAddr(fmt.Sprintf("fd00:100::%d", b+2))
				}
				vs.Destinations = append(vs.Destinations, ipvs.Destination{
					DestKey:    ipvs.DestKey{Address: addr, Port: 8000 + uint16(r.IntN(2))},
					Weight:     1 + r.IntN(3),
					Forwarding: []ipvs.Forwarding{ipvs.Masquerade, ipvs.DirectRoute, ipvs.Tunnel}[r.IntN(3)],
				})
			}
			d.Services = append(d.Services, vs)
		}
	}
	d.Addresses = d.ServiceAddresses()
	return d
}

// TestRandomSequences drives the real kernel through random desired states
// in random order, through one reconciler and across restarts, and checks
// after each sync that ipvsadm -Ln shows exactly the desired table and that
// syncing the same state again writes nothing.
func TestRandomSequences(t *testing.T) {
	record := cleanKernel(t)
	r := rand.New(rand.NewPCG(1, 2))
	states := make([]desired.State, 12)
	for i := range states {
		states[i] = randomState(r)
	}
	states = append(states, desired.State{}) // and finally nothing
	n := newNode(t, record, reconciler.Config{})
	defer func() { n.close() }()
	ctx := context.Background()
	for round, order := range [][]int{identity(len(states)), r.Perm(len(states)), r.Perm(len(states))} {
		for step, i := range order {
			want := states[i]
			if step%5 == 4 { // a daemon restart now and then
				n.close()
				n = newNode(t, record, reconciler.Config{})
			}
			res, err := n.rec.Sync(ctx, want)
			if err != nil {
				t.Fatalf("round %d step %d (state %d): sync: %v\n%s", round, step, i, err, res.String())
			}
			got := ipvsadm(t, "-Ln")
			if exp := expectTable(t, n.env.IPVS, asTable(want.Services)); got != exp {
				t.Fatalf("round %d step %d (state %d): ipvsadm -Ln\n%s\nwant\n%s", round, step, i, got, exp)
			}
			again, err := n.rec.Sync(ctx, want)
			if err != nil || again.Writes() != 0 {
				t.Fatalf("round %d step %d: repeated sync: %d writes (%s), %v", round, step, again.Writes(), again.String(), err)
			}
			l, err := n.env.Addresses.ListAddresses()
			addrs := l.OnLink
			if err != nil {
				t.Fatal(err)
			}
			if len(addrs) != len(want.Addresses) {
				t.Fatalf("round %d step %d: dummy holds %v, want %v", round, step, addrs, want.Addresses)
			}
			for _, a := range want.Addresses {
				if !addrs[a] {
					t.Fatalf("round %d step %d: VIP %s not bound (have %v)", round, step, a, addrs)
				}
			}
		}
	}
	t.Logf("%d states reached exactly in 3 rounds", len(states))
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestFullResyncRepairsHandEdits deletes a service and changes a weight by
// hand with ipvsadm; the next full resync puts both back.
func TestFullResyncRepairsHandEdits(t *testing.T) {
	record := cleanKernel(t)
	n := newNode(t, record, reconciler.Config{FullResyncInterval: time.Hour})
	defer n.close()
	want := randomState(rand.New(rand.NewPCG(7, 7)))
	ctx := context.Background()
	if _, err := n.rec.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	expected := ipvsadm(t, "-Ln")
	first := want.Services[0]
	ipvsadm(t, append([]string{"-D"}, keyArg(first.Key)...)...)
	var edited *desired.VirtualServer
	for i := range want.Services[1:] {
		if len(want.Services[1+i].Destinations) > 0 {
			edited = &want.Services[1+i]
			break
		}
	}
	if edited != nil {
		d := edited.Destinations[0]
		args := append([]string{"-e"}, keyArg(edited.Key)...)
		args = append(args, "-r", d.DestKey.String(), "-w", "77", fwdFlag(d.Forwarding))
		ipvsadm(t, args...)
	}
	// An incremental sync does not read the kernel, so it cannot see this.
	res, err := n.rec.Sync(ctx, want)
	if err != nil || res.Writes() != 0 {
		t.Fatalf("incremental sync after hand edits: %s, %v", res.String(), err)
	}
	n.rec.RequestFullResync()
	res, err = n.rec.Sync(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got := ipvsadm(t, "-Ln"); got != expected {
		t.Fatalf("after full resync:\n%s\nwant\n%s", got, expected)
	}
	t.Logf("full resync repaired the hand edits: %s", res.String())
}

func keyArg(k ipvs.Key) []string {
	if k.IsFWMark() {
		return []string{"-f", fmt.Sprint(k.FWMark)}
	}
	flag := map[ipvs.Protocol]string{ipvs.TCP: "-t", ipvs.UDP: "-u", ipvs.SCTP: "--sctp-service"}[k.Protocol]
	return []string{flag, netip.AddrPortFrom(k.Address, k.Port).String()}
}

func fwdFlag(f ipvs.Forwarding) string {
	switch f {
	case ipvs.DirectRoute:
		return "-g"
	case ipvs.Tunnel:
		return "-i"
	}
	return "-m"
}

//go:build lab

package ha

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

// heldConns is how many connections a failover test holds open through
// the VIP: enough that the router's L4 hash spreads them over both
// directors (all 16 on one director has odds of 2^-15).
const heldConns = 16

// via names the held connections in messages.
const via = "VIP"

// converge bounds the waits on BGP and on the daemons: minutes, since the
// CPU is emulated and shared.
const converge = 90 * time.Second

// TestFailoverMaglev: with mh (maglev, hashing the source port too) and
// identical backends on both directors, and the sloppy TCP ipvsd turns on
// when bgp: is configured, every held connection survives a director
// failing and returning, and a graceful restart of the other moves no
// traffic at all. A VIP without a healthy backend is never announced.
func TestFailoverMaglev(t *testing.T) {
	s := newSite(t)
	announced := s.router.watch(t, func() bool { return len(s.router.learnedFrom(t, deadVIP)) > 0 })
	sched := scheduling{scheduler: "mh", flags: []string{"mh-port"}}
	check := s.servers[0].Listen(t, "tcp", fmt.Sprintf(":%d", flapCheckPort))
	for _, d := range s.dirs {
		d.start(t, sched)
	}
	s.waitHops(t, s.dirs...)
	for _, d := range s.dirs {
		d.checkStatus(t)
	}
	s.flap(t, check)
	for _, d := range s.dirs {
		if got := d.sysctl(t, "net/ipv4/vs/sloppy_tcp"); got != "1" {
			t.Errorf("%s: net.ipv4.vs.sloppy_tcp = %s, want 1", d.name, got)
		}
	}
	hs := s.holdSpread(t)
	stop := make(chan struct{})
	wait := guestutil.Exchange(hs, stop)
	s.failAndReturn(t, hs, 0, sched)
	s.restartGraceful(t, hs, 1, sched)
	close(stop)
	wait()
	kept, lost := guestutil.Count(t, hs, via)
	t.Logf("maglev: %d connections held through a director failing and returning and a graceful restart, %d lost", kept, lost)
	if n, of := announced(); n > 0 || of == 0 {
		t.Errorf("%s (no healthy backend) was learned by the router in %d of %d looks, want none", deadVIP, n, of)
	}
	s.cleanupWithdraws(t, 0)
}

// cleanupWithdraws stops director i's daemon, whose routes the router
// keeps (graceful restart), and requires `ipvsd cleanup --config` to
// withdraw them.
func (s *site) cleanupWithdraws(t *testing.T, i int) {
	t.Helper()
	d := s.dirs[i]
	d.ipvsd.Stop(t, syscall.SIGTERM)
	if from := s.router.learnedFrom(t, vip); !slices.Contains(from, d.name) {
		t.Errorf("after SIGTERM the router has %s from %v only: graceful restart should keep %s's route", vip, from, d.name)
	}
	out := d.ns.Run(t, "ipvsd", "cleanup", "--config", d.configPath(), "--record", d.recordPath())
	if from := s.router.learnedFrom(t, vip); slices.Contains(from, d.name) {
		t.Errorf("after ipvsd cleanup the router still has %s from %s:\n%s", vip, d.name, out)
	}
	t.Logf("ipvsd cleanup on %s withdrew its routes from the router", d.name)
}

// TestFailoverSyncDaemon: with rr, which two directors do not choose
// alike, the kernel's connection-sync daemon (role both on each) copies
// every connection to the other director, and every held connection
// survives a director failing and returning.
func TestFailoverSyncDaemon(t *testing.T) {
	s := newSite(t)
	sched := scheduling{scheduler: "rr", sync: true}
	for _, d := range s.dirs {
		d.start(t, sched)
	}
	s.waitHops(t, s.dirs...)
	hs := s.holdSpread(t)
	stop := make(chan struct{})
	wait := guestutil.Exchange(hs, stop)
	s.waitSynced(t, hs)
	s.failAndReturn(t, hs, 0, sched)
	close(stop)
	wait()
	kept, lost := guestutil.Count(t, hs, via)
	t.Logf("rr with the sync daemon: %d connections held through a director failing and returning, %d lost", kept, lost)
}

// flap takes flapVIP's only backend down (its health-check port closes)
// and up again, and requires the router to lose the VIP from both
// directors and learn it again.
func (s *site) flap(t *testing.T, check net.Listener) {
	t.Helper()
	s.waitLearned(t, flapVIP, 2)
	check.Close()
	took := s.waitLearned(t, flapVIP, 0)
	t.Logf("%s withdrawn by both directors %v after its backend's check port closed (interval 1s, fall 1)", flapVIP, took.Round(time.Millisecond))
	s.servers[0].Listen(t, "tcp", fmt.Sprintf(":%d", flapCheckPort))
	took = s.waitLearned(t, flapVIP, 2)
	t.Logf("%s announced again by both directors %v after the port opened (rise 1)", flapVIP, took.Round(time.Millisecond))
}

// waitLearned waits until the router has addr from n directors.
func (s *site) waitLearned(t *testing.T, addr string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	guestutil.Eventually(t, converge, func() string {
		if from := s.router.learnedFrom(t, addr); len(from) != n {
			return fmt.Sprintf("router has %s from %v, want %d directors", addr, from, n)
		}
		return ""
	})
	return time.Since(start)
}

// waitHops waits until the router forwards vip to exactly the directors
// ds, and says how long that took.
func (s *site) waitHops(t *testing.T, ds ...*director) time.Duration {
	t.Helper()
	var want []string
	for _, d := range ds {
		want = append(want, d.addr)
	}
	slices.Sort(want)
	start := time.Now()
	guestutil.Eventually(t, converge, func() string {
		for _, d := range s.dirs {
			if d.ipvsd != nil && !d.ipvsd.Exited() {
				d.ipvsd.Check(t)
			}
		}
		got := s.router.nextHops(t, vip)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			out, _ := s.router.birdc("show", "protocols")
			return fmt.Sprintf("router forwards %s to %v, want %v\n%s", vip, got, want, out)
		}
		return ""
	})
	return time.Since(start)
}

// holdSpread opens heldConns connections from the client through the VIP
// and requires them spread over both directors and both real servers: by
// each director's count of connections it scheduled (a connection the
// sync daemon copied in is not counted), which must add up to heldConns.
func (s *site) holdSpread(t *testing.T) []*guestutil.Held {
	t.Helper()
	before := s.scheduled(t)
	hs := guestutil.Hold(t, s.client, via, net.JoinHostPort(vip, fmt.Sprint(port)), heldConns)
	perRS := map[string]int{}
	for _, h := range hs {
		perRS[h.Backend]++
	}
	// The kernel publishes its counters when its rate estimator runs
	// (every 2 s), so the sum is waited for.
	perDir := map[string]int{}
	guestutil.Eventually(t, converge, func() string {
		after := s.scheduled(t)
		sum := 0
		clear(perDir)
		for i, d := range s.dirs {
			if n := int(after[i] - before[i]); n > 0 {
				perDir[d.name] = n
				sum += n
			}
		}
		if sum != len(hs) {
			return fmt.Sprintf("the directors scheduled %d connections (%v), want %d", sum, perDir, len(hs))
		}
		return ""
	})
	t.Logf("%d connections: scheduled per director %v, per real server %v", len(hs), perDir, perRS)
	if len(perDir) != 2 || len(perRS) != 2 {
		t.Fatalf("connections not spread over both directors and both real servers: %v, %v", perDir, perRS)
	}
	return hs
}

// scheduled is each director's count of connections its web service
// scheduled.
func (s *site) scheduled(t *testing.T) []uint64 {
	t.Helper()
	var n []uint64
	for _, d := range s.dirs {
		n = append(n, d.scheduled(t))
	}
	return n
}

// waitSynced waits until every held connection is in both directors'
// tables with the same real server: the sync daemon copied it.
func (s *site) waitSynced(t *testing.T, hs []*guestutil.Held) {
	t.Helper()
	guestutil.Eventually(t, converge, func() string {
		a, b := s.dirs[0].connections(t), s.dirs[1].connections(t)
		for _, h := range hs {
			c := h.Conn.LocalAddr().String()
			if a[c] == "" || a[c] != b[c] {
				return fmt.Sprintf("connection %s: %s has %q, %s has %q", c, s.dirs[0].name, a[c], s.dirs[1].name, b[c])
			}
		}
		return ""
	})
}

// failAndReturn fails director i (uplink down, daemon killed), waits for
// the router to forward everything to the other and for every held
// connection to exchange lines again, then brings the director back and
// waits the same.
func (s *site) failAndReturn(t *testing.T, hs []*guestutil.Held, i int, sched scheduling) {
	t.Helper()
	d, other := s.dirs[i], s.dirs[1-i]
	d.fail(t)
	took := s.waitHops(t, other)
	waitProgress(t, hs, 5)
	t.Logf("%s failed: the router forwarded to %s alone after %v; every connection exchanged since", d.name, other.name, took.Round(time.Millisecond))

	must(t, d.ns.SetLink("eth0", true))
	// An interface going down takes its routes with it.
	d.ns.DefaultRoute(t, lanRouter)
	d.start(t, sched)
	took = s.waitHops(t, s.dirs...)
	waitProgress(t, hs, 5)
	t.Logf("%s returned: the router forwarded to both after %v; every connection exchanged since", d.name, took.Round(time.Millisecond))
}

// restartGraceful restarts director i's daemon (SIGTERM, then a new
// process) and requires the router to keep forwarding to it all along:
// graceful restart kept its routes.
func (s *site) restartGraceful(t *testing.T, hs []*guestutil.Held, i int, sched scheduling) {
	t.Helper()
	d := s.dirs[i]
	missing := s.router.watch(t, func() bool { return !slices.Contains(s.router.nextHops(t, vip), d.addr) })
	d.ipvsd.Stop(t, syscall.SIGTERM)
	if err := d.ipvsd.Err(); err != nil {
		t.Errorf("%s: ipvsd on SIGTERM: %v", d.name, err)
	}
	d.start(t, sched)
	guestutil.Eventually(t, converge, func() string {
		d.ipvsd.Check(t)
		out, err := s.router.birdc("show", "protocols", d.name)
		if err != nil || !strings.Contains(out, "Established") {
			return fmt.Sprintf("session to %s not re-established: %v\n%s", d.name, err, out)
		}
		return ""
	})
	waitProgress(t, hs, 5)
	if n, of := missing(); n > 0 {
		t.Errorf("the router did not forward %s to %s in %d of %d looks during its graceful restart", vip, d.name, n, of)
	}
	t.Logf("%s restarted gracefully: the router forwarded to it throughout", d.name)
}

// waitProgress waits until every held connection has exchanged n more
// lines than when it was called.
func waitProgress(t *testing.T, hs []*guestutil.Held, n int) {
	t.Helper()
	base := make([]int, len(hs))
	for i, h := range hs {
		base[i] = h.Exchanges()
	}
	guestutil.Eventually(t, converge, func() string {
		for i, h := range hs {
			if h.Err() != nil {
				continue // lost: Count reports it
			}
			if got := h.Exchanges(); got < base[i]+n {
				return fmt.Sprintf("connection %s (%s) exchanged %d lines, want %d", h.Conn.LocalAddr(), h.Backend, got-base[i], n)
			}
		}
		return ""
	})
}

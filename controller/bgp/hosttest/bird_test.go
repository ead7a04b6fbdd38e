package hosttest

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/bgp"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// The test binary runs in a private network namespace (the director's);
// BIRD runs in another one, "router", joined to it by a veth pair.
func TestMain(m *testing.M) { os.Exit(nettest.RunIsolated(m)) }

const (
	routerAddr   = "10.11.1.1"
	directorAddr = "10.11.1.2"
	// The IPv6 session's ends.
	routerAddr6   = "fd00:11::1"
	directorAddr6 = "fd00:11::2"
	// wait bounds every wait on BIRD: generous, as the machine is shared.
	wait = 60 * time.Second
)

var (
	vip1 = netip.MustParseAddr("192.0.2.10")
	vip2 = netip.MustParseAddr("192.0.2.11")
)

// bird is a BIRD 2 daemon in its own namespace, with its own config file,
// control socket and pid file under a temporary directory.
type bird struct {
	t    *testing.T
	sock string
}

// birdConf is the router: it peers with the director, graceful restart
// on, and keeps what it learns in its table (export none: it announces
// nothing back).
const birdConf = `router id 10.11.1.1;
log stderr all;
protocol device { scan time 1; }
protocol bgp director {
	local 10.11.1.1 as 64500;
	neighbor 10.11.1.2 as 64512;
	hold time 3;
	keepalive time 1;
	connect retry time 1;
	error wait time 1, 2;
	graceful restart on;
	ipv4 { import all; export none; };
}
protocol bgp director6 {
	local fd00:11::1 as 64500;
	neighbor fd00:11::2 as 64512;
	hold time 3;
	keepalive time 1;
	connect retry time 1;
	error wait time 1, 2;
	ipv6 { import all; export none; };
}
`

func startBIRD(t *testing.T) *bird {
	t.Helper()
	for _, tool := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (Debian's bird2 package: make test installs it): %v", tool, err)
		}
	}
	nettest.NewPeer(t, "router", routerAddr, directorAddr).AddFamily(t, routerAddr6, directorAddr6)
	dir := t.TempDir()
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(birdConf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bird{t: t, sock: filepath.Join(dir, "bird.ctl")}
	logf, err := os.Create(filepath.Join(dir, "bird.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", "router", "bird", "-f", "-c", conf, "-s", b.sock, "-P", filepath.Join(dir, "bird.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting bird: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("bird's log:\n%s", out)
		}
	})
	b.waitFor("BIRD's control socket", func() (bool, string) {
		out, err := b.ctl("show status")
		return err == nil && strings.Contains(out, "Daemon is up and running"), out
	})
	return b
}

// ctl runs one birdc command on our socket.
func (b *bird) ctl(cmd string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", b.sock}, strings.Fields(cmd)...)...).CombinedOutput()
	return string(out), err
}

func (b *bird) mustCtl(cmd string) string {
	b.t.Helper()
	out, err := b.ctl(cmd)
	if err != nil {
		b.t.Fatalf("birdc %s: %v\n%s", cmd, err, out)
	}
	return out
}

// waitFor polls cond until it holds, failing the test with cond's last
// output after the wait.
func (b *bird) waitFor(what string, cond func() (bool, string)) {
	b.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, out := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: gave up after %s; last:\n%s", what, wait, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var routeLine = regexp.MustCompile(`(?m)^([0-9a-f:.]+/\d+)\s+unicast`)

// routes lists the prefixes BIRD holds from the director's IPv4 session.
func (b *bird) routes() ([]string, string) { return b.routesOf("director") }

// routesOf lists the prefixes BIRD holds from one of its protocols.
func (b *bird) routesOf(proto string) ([]string, string) {
	out := b.mustCtl("show route protocol " + proto)
	var got []string
	for _, m := range routeLine.FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
	}
	slices.Sort(got)
	return got, out
}

func (b *bird) waitRoutes(what string, want ...string) string {
	b.t.Helper()
	var last string
	b.waitFor(what, func() (bool, string) {
		got, out := b.routes()
		last = out
		return strings.Join(got, " ") == strings.Join(want, " "), out
	})
	return last
}

func (b *bird) protocol() string { return b.mustCtl("show protocols all director") }

func (b *bird) waitState(what, state string) string {
	b.t.Helper()
	var last string
	b.waitFor(what, func() (bool, string) {
		last = b.protocol()
		return regexp.MustCompile(`(?m)^\s+BGP state:\s+` + state + `\b`).MatchString(last), last
	})
	return last
}

// capabilities is the block of `show protocols all` listing the
// capabilities side ("Local" or "Neighbor") offered.
func capabilities(proto, side string) string {
	_, rest, _ := strings.Cut(proto, side+" capabilities\n")
	block, _, _ := strings.Cut(rest, "capabilities\n") // the other side's
	block, _, _ = strings.Cut(block, "Session:")
	return block
}

var routeTime = regexp.MustCompile(`unicast \[director ([0-9:.]+)\]`)

// routeSince is when BIRD imported the (only) route of out.
func routeSince(t *testing.T, out string) string {
	t.Helper()
	m := routeTime.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no route time in:\n%s", out)
	}
	return m[1]
}

func config(gr bool) bgp.Config {
	return bgp.Config{
		ASN: 64512, RouterID: netip.MustParseAddr(directorAddr), Communities: []uint32{64512<<16 | 100, 65000<<16 | 7},
		ForwardingPreserved: true,
		Peers: []bgp.Peer{{Address: netip.MustParseAddr(routerAddr), ASN: 64500, Port: 179, HoldTime: 3 * time.Second,
			GracefulRestart: gr, RestartTime: 120 * time.Second}},
	}
}

func newAnnouncer(t *testing.T) *bgp.Announcer {
	log := zaptest.NewLogger(t)
	var a *bgp.Announcer
	sp := bgp.NewGoBGP(log, func(st bgp.PeerStatus) { a.PeerChanged(st) })
	a = bgp.NewAnnouncer(log, sp, nil)
	return a
}

// TestBIRDGracefulRestart announces, withdraws, stops as on SIGTERM with
// graceful restart negotiated, and cleans up, each step judged by BIRD.
func TestBIRDGracefulRestart(t *testing.T) {
	ctx := context.Background()
	b := startBIRD(t)
	a := newAnnouncer(t)
	cfg := config(true)
	if err := a.SetConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	if out := b.protocol(); !regexp.MustCompile(`BGP state:\s+(Idle|Connect|Active)`).MatchString(out) {
		t.Fatalf("a session before the first sync:\n%s", out)
	}
	if err := a.SetVIPs(ctx, []netip.Addr{vip2, vip1}); err != nil {
		t.Fatal(err)
	}
	proto := b.waitState("the session", "Established")
	// BIRD lists the capabilities each side offered: graceful restart is
	// negotiated when both have it.
	if !strings.Contains(capabilities(proto, "Local"), "Graceful restart") || !strings.Contains(capabilities(proto, "Neighbor"), "Graceful restart") {
		t.Errorf("graceful restart not negotiated:\n%s", proto)
	}
	b.waitRoutes("both VIPs", "192.0.2.10/32", "192.0.2.11/32")
	all := b.mustCtl("show route all protocol director")
	for _, want := range []string{"BGP.community: (64512,100) (65000,7)", "BGP.next_hop: " + directorAddr, "BGP.as_path: 64512"} {
		if !strings.Contains(all, want) {
			t.Errorf("routes lack %q:\n%s", want, all)
		}
	}

	if err := a.SetVIPs(ctx, []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	b.waitRoutes("192.0.2.11 withdrawn", "192.0.2.10/32")

	// SIGTERM: the session closes without a NOTIFICATION and BIRD keeps
	// the route, stale, for our restart time (120 s, far beyond the test).
	if err := a.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	b.waitFor("BIRD to notice the session closed", func() (bool, string) {
		out := b.protocol()
		return !strings.Contains(out, "Established"), out
	})
	stale := b.waitRoutes("the route kept by graceful restart", "192.0.2.10/32")
	if p := b.protocol(); !strings.Contains(p, "Neighbor graceful restart active") {
		t.Errorf("BIRD keeps the route but not for a graceful restart:\n%s", p)
	}
	since := routeSince(t, stale)

	restartKeepsRoute(t, b, cfg, since)

	// ipvsd cleanup: a session announcing nothing, then a Cease.
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := bgp.Withdraw(wctx, zaptest.NewLogger(t), bgp.NewGoBGP(zaptest.NewLogger(t), nil), config(true)); err != nil {
		t.Fatal(err)
	}
	b.waitRoutes("cleanup to remove the stale route")
}

// restartKeepsRoute starts a new speaker, as a restarted daemon does, and
// stops it again with graceful restart.
func restartKeepsRoute(t *testing.T, b *bird, cfg bgp.Config, since string) {
	t.Helper()
	ctx := context.Background()
	// A restarted daemon: BIRD keeps the stale route until our End-of-RIB
	// and takes the fresh one, which is the same: the route is never
	// withdrawn or replaced (its time stays), so no traffic moves.
	a := newAnnouncer(t)
	if err := a.SetConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.SetVIPs(ctx, []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	proto := b.waitState("the session after the restart", "Established")
	if c := capabilities(proto, "Neighbor"); !strings.Contains(c, "Restart recovery") || !strings.Contains(c, "AF preserved: ipv4") {
		t.Errorf("the restarted speaker does not say it kept forwarding:\n%s", proto)
	}
	b.waitFor("the graceful restart to end", func() (bool, string) {
		p := b.protocol()
		return !strings.Contains(p, "graceful restart active"), p
	})
	if after := routeSince(t, b.waitRoutes("the route after the restart", "192.0.2.10/32")); after != since {
		t.Errorf("the route changed across the restart: imported at %s, now at %s", since, after)
	}
	if err := a.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	b.waitFor("BIRD to notice the session closed again", func() (bool, string) {
		out := b.protocol()
		return strings.Contains(out, "Neighbor graceful restart active"), out
	})
	b.waitRoutes("the route kept by graceful restart", "192.0.2.10/32")
}

// TestBIRDWithoutGracefulRestart: without graceful restart a stop
// withdraws at once, and so does turning BGP off by a reload.
func TestBIRDWithoutGracefulRestart(t *testing.T) {
	ctx := context.Background()
	b := startBIRD(t)
	a := newAnnouncer(t)
	cfg := config(false)
	if err := a.SetConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.SetVIPs(ctx, []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	proto := b.waitState("the session", "Established")
	if strings.Contains(capabilities(proto, "Neighbor"), "Graceful restart") {
		t.Errorf("graceful restart offered though off:\n%s", proto)
	}
	b.waitRoutes("the VIP", "192.0.2.10/32")
	if err := a.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	b.waitRoutes("the route withdrawn by the stop")

	a = newAnnouncer(t)
	if err := a.SetConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.SetVIPs(ctx, []netip.Addr{vip1, vip2}); err != nil {
		t.Fatal(err)
	}
	b.waitRoutes("both VIPs", "192.0.2.10/32", "192.0.2.11/32")
	if err := a.SetConfig(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b.waitRoutes("the routes withdrawn when bgp: is removed")
}

// TestBIRDIPv6: an IPv6 VIP goes to an IPv6 peer as a /128 with our
// address as the next hop (the session carries IPv6 unicast only, so the
// IPv4 VIP beside it is not offered).
func TestBIRDIPv6(t *testing.T) {
	ctx := context.Background()
	b := startBIRD(t)
	a := newAnnouncer(t)
	cfg := config(false)
	cfg.Peers[0].Address = netip.MustParseAddr(routerAddr6)
	if err := a.SetConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.SetVIPs(ctx, []netip.Addr{vip1, netip.MustParseAddr("2001:db8::10")}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the IPv6 route", func() (bool, string) {
		got, out := b.routesOf("director6")
		return strings.Join(got, " ") == "2001:db8::10/128", out
	})
	if all := b.mustCtl("show route all protocol director6"); !strings.Contains(all, "BGP.next_hop: "+directorAddr6) ||
		!strings.Contains(all, "BGP.community: (64512,100) (65000,7)") {
		t.Errorf("the IPv6 route lacks our next hop or communities:\n%s", all)
	}
	if err := a.Stop(ctx, false); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the IPv6 route withdrawn", func() (bool, string) {
		got, out := b.routesOf("director6")
		return len(got) == 0, out
	})
}

// TestBIRDDeadDirector: graceful restart keeps the routes of a daemon
// that stopped, not of a director that is gone. BIRD drops them when its
// link to the director goes down, or when the hold timer expires (it then
// sends a NOTIFICATION itself, which ends graceful restart).
func TestBIRDDeadDirector(t *testing.T) {
	for name, cut := range map[string][][]string{
		"link down":  {{"ip", "link", "set", "vrouter", "down"}},
		"hold timer": {{"iptables", "-I", "INPUT", "-p", "tcp", "-j", "DROP"}, {"iptables", "-I", "OUTPUT", "-p", "tcp", "-j", "DROP"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := startBIRD(t)
			a := newAnnouncer(t)
			cfg := config(true)
			if err := errors.Join(a.SetConfig(ctx, &cfg), a.SetVIPs(ctx, []netip.Addr{vip1})); err != nil {
				t.Fatal(err)
			}
			b.waitState("the session", "Established")
			b.waitRoutes("the VIP", "192.0.2.10/32")
			for _, c := range cut {
				if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v\n%s", c, err, out)
				}
			}
			t.Cleanup(func() {
				_ = exec.Command("iptables", "-F").Run() // this test's private namespace only
				_ = a.Stop(ctx, false)
			})
			b.waitRoutes("the dead director's route withdrawn")
			if p := b.protocol(); strings.Contains(p, "graceful restart active") {
				t.Errorf("BIRD is helping a graceful restart of a dead director:\n%s", p)
			}
		})
	}
}

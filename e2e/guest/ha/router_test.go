//go:build lab

package ha

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// router is BIRD 2 in its own namespace: a BGP session to each director,
// the VIPs it learns merged into one ECMP route in its kernel table, and
// forwarding hashed on the L4 five-tuple, as an operator configures the
// router in front of several directors.
type router struct {
	ns   *nettest.NS
	sock string
	bird *guestutil.Proc
}

// birdConfig: hold time 3 s (a failed director is dropped within it),
// graceful restart (a restarting director's routes are kept as stale
// until it is back), and `merge paths` so that both directors' routes of
// a VIP become one multipath kernel route.
func birdConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `log stderr all;
router id %s;
protocol device { scan time 1; }
protocol kernel {
	ipv4 { import none; export all; };
	merge paths on;
}
template bgp director {
	local %s as %d;
	hold time 3;
	keepalive time 1;
	connect retry time 1;
	error wait time 1, 5;
	graceful restart on;
	ipv4 { import all; export none; };
}
`, lanRouter, lanRouter, routerASN)
	for _, d := range directors {
		fmt.Fprintf(&b, "protocol bgp %s from director { neighbor %s as %d; }\n", d.name, d.addr, ourASN)
	}
	return b.String()
}

func startRouter(t *testing.T, ns *nettest.NS, dir string) *router {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	conf := filepath.Join(dir, "bird.conf")
	must(t, os.WriteFile(conf, []byte(birdConfig()), 0o644))
	for _, k := range []string{"ipv4/ip_forward=1", "ipv4/fib_multipath_hash_policy=1", "ipv4/conf/all/rp_filter=0"} {
		setSysctl(t, ns, "net/"+k)
	}
	r := &router{ns: ns, sock: filepath.Join(dir, "bird.ctl")}
	r.bird = guestutil.Start(t, "ip", "netns", "exec", ns.Name, "bird", "-f", "-c", conf, "-s", r.sock, "-P", filepath.Join(dir, "bird.pid"))
	guestutil.Eventually(t, 30*time.Second, func() string {
		r.bird.Check(t)
		if out, err := r.birdc("show", "status"); err != nil || !strings.Contains(out, "Daemon is up and running") {
			return fmt.Sprintf("BIRD not up: %v\n%s", err, out)
		}
		return ""
	})
	return r
}

// birdc runs a command on BIRD's control socket.
func (r *router) birdc(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", r.sock}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("birdc %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// nextHops are the next hops of the router's kernel route to addr (one
// per director it forwards to), read with ip route in its namespace.
func (r *router) nextHops(t testing.TB, addr string) []string {
	t.Helper()
	return parseNextHops(r.ns.Run(t, "ip", "route", "show", addr+"/32"))
}

// parseNextHops reads `ip route show` of one prefix: "10.99.0.10 via
// 10.11.1.2 dev eth0 proto bird metric 32" for one next hop, or a
// "nexthop via ..." line per next hop of a multipath route.
func parseNextHops(out string) []string {
	var hops []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "via" {
				hops = append(hops, f[i+1])
			}
		}
	}
	return hops
}

// learnedFrom are the BGP sessions (directors) BIRD has a route to addr
// from, by `birdc show route`.
func (r *router) learnedFrom(t testing.TB, addr string) []string {
	t.Helper()
	out, err := r.birdc("show", "route", addr+"/32")
	if strings.Contains(out, "Network not found") {
		return nil // birdc's exit status 1 for no route
	}
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	for _, d := range directors {
		if strings.Contains(out, "["+d.name+" ") {
			from = append(from, d.name)
		}
	}
	return from
}

// watch looks at the router every 200 ms until the returned function is
// called, and counts the looks where bad was true: a watch on what must
// never happen, however briefly.
func (r *router) watch(t *testing.T, bad func() bool) (stop func() (n, of int)) {
	t.Helper()
	done := make(chan struct{})
	var n, of int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if bad() {
				n++
			}
			of++
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	stop = func() (int, int) {
		once.Do(func() { close(done); wg.Wait() })
		return n, of
	}
	t.Cleanup(func() { stop() })
	return stop
}

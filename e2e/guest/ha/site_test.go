//go:build lab

package ha

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// The site: every host on the LAN 10.11.1.0/24 (bridge lan0 in the VM's
// root namespace); the client behind the router on 10.20.0.0/24.
const (
	lanRouter  = "10.11.1.1"
	clientAddr = "10.20.0.2"
	routerASN  = 64500
	ourASN     = 64512
	// vip is served by both directors; deadVIP's only backend never
	// answers its health check, so no director may announce it.
	vip     = "10.99.0.10"
	deadVIP = "10.99.0.20"
	port    = 80
	// flapVIP's one backend is healthy while the test listens on
	// flapCheckPort in rs1: it shows a VIP withdrawn and announced again
	// with its backend's health.
	flapVIP       = "10.99.0.30"
	flapCheckPort = 8081
)

// site is the whole topology of one test.
type site struct {
	dir     string // files of the router and the directors
	client  *nettest.NS
	router  *router
	dirs    []*director
	servers []*nettest.NS
}

// host is a namespace's name and its LAN address.
type host struct{ name, addr string }

// realServers are the DR backends: the VIPs on lo, answering no ARP for
// them (arp_ignore=1, arp_announce=2), replying straight to the client
// through the router.
var realServers = []host{{"rs1", "10.11.1.11"}, {"rs2", "10.11.1.12"}}

// directors are the two directors.
var directors = []host{{"dir1", "10.11.1.2"}, {"dir2", "10.11.1.3"}}

// newSite builds the namespaces, the LAN and the router, and starts the
// real servers; the directors are started by the test, with its config.
func newSite(t *testing.T) *site {
	t.Helper()
	guestutil.Run(t, "modprobe", "bridge")
	s := &site{dir: t.TempDir()}
	lan := nettest.NewBridge(t, "lan0")
	rns := nettest.NewNS(t, "router")
	lan.Attach(t, rns, "eth0", lanRouter+"/24")
	s.client = nettest.NewNS(t, "client")
	nettest.Link(t, rns, "eth1", "10.20.0.1/24", s.client, "eth0", clientAddr+"/24")
	s.client.DefaultRoute(t, "10.20.0.1")
	for _, rs := range realServers {
		ns := nettest.NewNS(t, rs.name)
		lan.Attach(t, ns, "eth0", rs.addr+"/24")
		ns.DefaultRoute(t, lanRouter)
		for _, v := range []string{vip, deadVIP, flapVIP} {
			must(t, ns.AddAddress("lo", v+"/32"))
		}
		for _, k := range []string{"all/arp_ignore=1", "all/arp_announce=2", "eth0/arp_ignore=1", "eth0/arp_announce=2", "all/rp_filter=0", "eth0/rp_filter=0"} {
			setSysctl(t, ns, "net/ipv4/conf/"+k)
		}
		ns.ServeTCP(t, port, rs.name)
		s.servers = append(s.servers, ns)
	}
	for _, d := range directors {
		ns := nettest.NewNS(t, d.name)
		lan.Attach(t, ns, "eth0", d.addr+"/24")
		ns.DefaultRoute(t, lanRouter)
		s.dirs = append(s.dirs, &director{name: d.name, addr: d.addr, ns: ns, dir: filepath.Join(s.dir, d.name)})
	}
	s.router = startRouter(t, rns, filepath.Join(s.dir, "router"))
	return s
}

// setSysctl sets "path=value" (under /proc/sys) in ns: the namespace's
// own copy of a net sysctl.
func setSysctl(t *testing.T, ns *nettest.NS, kv string) {
	t.Helper()
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		t.Fatalf("sysctl %q: want path=value", kv)
	}
	if err := ns.Do(func() error { return os.WriteFile("/proc/sys/"+k, []byte(v), 0o644) }); err != nil {
		t.Fatalf("sysctl %s in %s: %v", kv, ns.Name, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

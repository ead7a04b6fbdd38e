//go:build lab

package ha

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// director is one director's namespace and its `ipvsd standalone`.
type director struct {
	name, addr string
	ns         *nettest.NS
	dir        string // its config and record
	ipvsd      *guestutil.Proc
}

// scheduling is what a test varies between its directors' configs.
type scheduling struct {
	scheduler string
	flags     []string
	// sync adds the kernel's connection-sync daemon on the LAN.
	sync bool
}

// config is the director's standalone config: vip over both DR real
// servers, deadVIP checked on a port nothing listens on, flapVIP checked
// on flapCheckPort, and the BGP session to the router.
func (d *director) config(s scheduling) string {
	var b strings.Builder
	flags := ""
	if len(s.flags) > 0 {
		flags = fmt.Sprintf("\n    schedulerFlags: [%s]", strings.Join(s.flags, ", "))
	}
	check := "{type: tcp, interval: 1s, timeout: 1s, rise: 1, fall: 2}"
	fmt.Fprintf(&b, `interface: ipvs0
services:
  - name: web
    vip: %s
    port: %d
    scheduler: %s%s
    forwarding: dr
    healthCheck: %s
    backends:
`, vip, port, s.scheduler, flags, check)
	for _, rs := range realServers {
		fmt.Fprintf(&b, "      - address: %s\n", rs.addr)
	}
	fmt.Fprintf(&b, `  - name: dead
    vip: %s
    port: %d
    scheduler: %s
    forwarding: dr
    healthCheck: {type: tcp, port: 81, interval: 1s, timeout: 1s, rise: 1, fall: 2}
    backends:
      - address: %s
  - name: flap
    vip: %s
    port: %d
    scheduler: %s
    forwarding: dr
    healthCheck: {type: tcp, port: %d, interval: 1s, timeout: 1s, rise: 1, fall: 1}
    backends:
      - address: %s
bgp:
  asn: %d
  peers:
    - {address: %s, asn: %d, holdTime: 3s}
`, deadVIP, port, s.scheduler, realServers[0].addr, flapVIP, port, s.scheduler, flapCheckPort, realServers[0].addr,
		ourASN, lanRouter, routerASN)
	if s.sync {
		b.WriteString("sync: {interface: eth0, syncID: 7, role: both}\n")
	}
	return b.String()
}

// start runs ipvsd standalone in the director's namespace.
func (d *director) start(t *testing.T, s scheduling) {
	t.Helper()
	must(t, os.MkdirAll(d.dir, 0o755))
	must(t, os.WriteFile(d.configPath(), []byte(d.config(s)), 0o644))
	d.ipvsd = guestutil.StartIPVSD(t, d.name, d.ns, "standalone", "--config", d.configPath(), "--record", d.recordPath())
}

func (d *director) configPath() string { return filepath.Join(d.dir, "ipvsd.yaml") }
func (d *director) recordPath() string { return filepath.Join(d.dir, "record.json") }

// checkStatus: `ipvsd status` on the director shows its session to the
// router established with graceful restart, and announces the healthy
// VIPs, never deadVIP.
func (d *director) checkStatus(t *testing.T) {
	t.Helper()
	var out string
	guestutil.Eventually(t, converge, func() string {
		out = d.ns.Run(t, "ipvsd", "status")
		for _, want := range []string{"established", "negotiated", vip + "/32", flapVIP + "/32"} {
			if !strings.Contains(out, want) {
				return fmt.Sprintf("ipvsd status on %s lacks %q:\n%s", d.name, want, out)
			}
		}
		return ""
	})
	if strings.Contains(out, deadVIP) {
		t.Errorf("ipvsd status on %s announces %s, which has no healthy backend:\n%s", d.name, deadVIP, out)
	}
}

// fail is a director dying: its uplink goes down and its daemon is killed
// without a chance to withdraw anything.
func (d *director) fail(t *testing.T) {
	t.Helper()
	must(t, d.ns.SetLink("eth0", false))
	d.ipvsd.Stop(t, syscall.SIGKILL)
}

// connections are the client ports of the director's IPVS connection
// table entries to vip, with the real server each went to.
func (d *director) connections(t testing.TB) map[string]string {
	t.Helper()
	m := map[string]string{}
	for client, c := range guestutil.IPVSConns(t, d.ns) {
		if c.Virtual == fmt.Sprintf("%s:%d", vip, port) {
			m[client] = c.Destination
		}
	}
	return m
}

// sysctl reads a net sysctl in the director's namespace.
func (d *director) sysctl(t testing.TB, path string) string {
	t.Helper()
	var v []byte
	err := d.ns.Do(func() (err error) { v, err = os.ReadFile("/proc/sys/" + path); return err })
	if err != nil {
		t.Fatalf("%s in %s: %v", path, d.name, err)
	}
	return strings.TrimSpace(string(v))
}

// scheduled is the Conns counter of the director's web service: the
// connections it scheduled itself, from `ipvsadm -Ln --stats --exact`.
func (d *director) scheduled(t testing.TB) uint64 {
	t.Helper()
	addr := fmt.Sprintf("%s:%d", vip, port)
	out := d.ns.Run(t, "ipvsadm", "-Ln", "--stats", "--exact", "-t", addr)
	n, ok := parseScheduled(out, addr)
	if !ok {
		t.Fatalf("no line for %s in %s's ipvsadm --stats:\n%s", addr, d.name, out)
	}
	return n
}

// parseScheduled reads the Conns column of the service line of `ipvsadm
// -Ln --stats --exact`: "TCP  10.99.0.10:80  16  120  0  9000  0".
func parseScheduled(out, addr string) (uint64, bool) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == addr {
			n, err := strconv.ParseUint(f[2], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

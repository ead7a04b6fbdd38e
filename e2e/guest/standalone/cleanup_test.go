//go:build lab

package standalone

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStopAndCleanup: SIGTERM leaves the kernel state in place; `ipvsd
// cleanup` then removes exactly what ipvsd created and leaves a foreign
// virtual server, a foreign address on the same link, and a foreign
// iptables chain and ipset as they were.
func TestStopAndCleanup(t *testing.T) {
	record := setup(t)
	run(t, "ipvsadm", "-A", "-t", "192.0.2.50:80", "-s", "wlc", "-p", "120")
	run(t, "ipvsadm", "-a", "-t", "192.0.2.50:80", "-r", "10.1.1.1:80", "-g", "-w", "5")
	run(t, "ipvsadm", "-A", "-t", "192.0.2.10:8443", "-s", "sh")
	run(t, "ip", "link", "add", "ipvs0", "type", "dummy")
	run(t, "ip", "addr", "add", "192.0.2.99/32", "dev", "ipvs0")
	run(t, "iptables", "-t", "nat", "-N", "FOREIGN-CHAIN")
	run(t, "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "FOREIGN-CHAIN")
	run(t, "ipset", "create", "ipvsd-operators-own", "hash:ip")
	t.Cleanup(func() {
		_ = exec.Command("iptables", "-t", "nat", "-D", "POSTROUTING", "-j", "FOREIGN-CHAIN").Run()
		_ = exec.Command("iptables", "-t", "nat", "-X", "FOREIGN-CHAIN").Run()
		_ = exec.Command("ipset", "destroy", "ipvsd-operators-own").Run()
	})
	foreignBefore := foreign(t)

	path := filepath.Join(t.TempDir(), "standalone.yaml")
	writeFile(t, path, `
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    backends: [{address: 10.100.1.2, port: 8080}]
  - name: dr
    vip: 192.0.2.20
    port: 80
    forwarding: dr
    backends: [{address: 10.100.1.3}]
`)
	d := startDaemon(t, record, path, "--metrics-addr", "")
	ours := `TCP 192.0.2.10:80 wrr
  -> 10.100.1.2:8080 Masq 1
TCP 192.0.2.10:8443 sh
TCP 192.0.2.20:80 wrr
  -> 10.100.1.3:80 Route 1
TCP 192.0.2.50:80 wlc persistent 120
  -> 10.1.1.1:80 Route 5`
	waitTable(t, ours, 30*time.Second)
	d.stop(t)
	time.Sleep(500 * time.Millisecond)
	if got := table(t); got != ours {
		t.Fatalf("SIGTERM changed the table:\n%s", got)
	}
	if out := run(t, "iptables-save", "-t", "nat"); !strings.Contains(out, "IPVSD-POSTROUTING") {
		t.Fatalf("SIGTERM removed the firewall rules:\n%s", out)
	}

	out := run(t, "ipvsd", "cleanup", "--record", record)
	t.Logf("ipvsd cleanup:\n%s", out)
	if !strings.Contains(out, "removed 2 virtual servers and 2 addresses") {
		t.Errorf("cleanup summary: %s", out)
	}
	if got := table(t); got != "TCP 192.0.2.10:8443 sh\nTCP 192.0.2.50:80 wlc persistent 120\n  -> 10.1.1.1:80 Route 5" {
		t.Errorf("table after cleanup:\n%s", got)
	}
	if got := foreign(t); got != foreignBefore {
		t.Errorf("foreign state changed by cleanup:\n%s\nwant\n%s", got, foreignBefore)
	}
	all := run(t, "iptables-save") + run(t, "ipset", "list", "-n")
	if strings.Contains(all, "IPVSD-") || strings.Contains(strings.ReplaceAll(all, "ipvsd-operators-own", ""), "ipvsd-") {
		t.Errorf("our chains or sets survived cleanup:\n%s", all)
	}
	// Cleaning again finds nothing to do and is not an error.
	if out := run(t, "ipvsd", "cleanup", "--record", record); !strings.Contains(out, "removed 0 virtual servers and 0 addresses") {
		t.Errorf("second cleanup: %s", out)
	}
}

// foreign is the state that is not ipvsd's: the IPv4 addresses on ipvs0
// but ours (ipvsd sets the link up, which adds a link-local IPv6 address),
// the foreign chain and set.
func foreign(t *testing.T) string {
	t.Helper()
	var addrs string
	if f := strings.Fields(run(t, "ip", "-4", "-br", "addr", "show", "dev", "ipvs0")); len(f) > 2 {
		addrs = strings.Join(f[2:], " ")
	}
	addrs = strings.ReplaceAll(strings.ReplaceAll(addrs, "192.0.2.10/32", ""), "192.0.2.20/32", "")
	var nat []string
	for _, l := range strings.Split(run(t, "iptables-save", "-t", "nat"), "\n") {
		if strings.Contains(l, "FOREIGN") {
			nat = append(nat, l)
		}
	}
	return strings.Join(strings.Fields(addrs), " ") + "\n" + strings.Join(nat, "\n") + "\n" + run(t, "ipset", "list", "ipvsd-operators-own")
}

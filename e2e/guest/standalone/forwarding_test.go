//go:build lab

package standalone

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDRAndTUN: DR and TUN services are programmed with their forwarding
// method (per service and per backend), their VIPs bound, and no
// masquerading installed for them.
func TestDRAndTUN(t *testing.T) {
	record := setup(t)
	path := filepath.Join(t.TempDir(), "standalone.yaml")
	writeFile(t, path, `
services:
  - name: dr
    vip: 192.0.2.20
    port: 443
    forwarding: dr
    scheduler: wlc
    backends: [{address: 10.1.0.1}, {address: 10.1.0.2, forwarding: tun, weight: 4}]
  - name: tun
    vip: 192.0.2.21
    port: 53
    protocol: udp
    forwarding: tun
    scheduler: rr
    backends: [{address: 10.2.0.1}]
  - name: marked
    fwmark: 7
    forwarding: dr
    scheduler: rr
    backends: [{address: 10.3.0.1}]
`)
	startDaemon(t, record, path, "--metrics-addr", "")
	waitTable(t, `
FWM 7 rr
  -> 10.3.0.1:0 Route 1
TCP 192.0.2.20:443 wlc
  -> 10.1.0.1:443 Route 1
  -> 10.1.0.2:443 Tunnel 4
UDP 192.0.2.21:53 rr
  -> 10.2.0.1:53 Tunnel 1`, 60*time.Second)
	out := run(t, "ip", "-br", "addr", "show", "dev", "ipvs0")
	for _, vip := range []string{"192.0.2.20/32", "192.0.2.21/32"} {
		if !strings.Contains(out, vip) {
			t.Errorf("VIP %s not bound: %s", vip, out)
		}
	}
	for _, save := range []string{"iptables-nft-save", "iptables-legacy-save"} {
		if out, err := exec.Command(save).CombinedOutput(); err != nil || strings.Contains(string(out), "IPVSD") {
			t.Errorf("%s: DR and TUN services need no firewall rules, got (%v):\n%s", save, err, out)
		}
	}
}

//go:build lab

package standalone

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// exampleTable is what examples/standalone.yaml programs with every
// backend healthy.
const exampleTable = `
TCP 192.0.2.10:80 wrr
  -> 10.100.1.2:8080 Masq 3
  -> 10.100.2.2:8080 Masq 1
TCP 192.0.2.10:8080 sh (sh-port) persistent 300 mask 255.255.255.0
  -> 10.100.1.2:8080 Masq 1
  -> 10.100.2.2:8080 Masq 1`

// TestExampleConfig runs the shipped example against backends in
// namespaces: the table it programs, traffic split by weight, a killed
// backend quiesced within fall x interval and restored after it returns,
// the quorum holding the sticky service, the sorry server, and metrics.
func TestExampleConfig(t *testing.T) {
	record := setup(t)
	client := nettest.NewPeer(t, "client", "10.200.0.2", "10.200.0.1")
	var bes []*httpServer
	for i, name := range []string{"be1", "be2"} {
		p := nettest.NewPeer(t, name, fmt.Sprintf("10.100.%d.2", i+1), fmt.Sprintf("10.100.%d.1", i+1))
		bes = append(bes, newHTTPServer(t, p.NS, 8080, name))
	}
	sorryNS := nettest.NewPeer(t, "sorry", "10.100.9.2", "10.100.9.1")
	newHTTPServer(t, sorryNS.NS, 8080, "sorry")

	d := startDaemon(t, record, ExampleConfig)
	// A cold start includes the firewall set-up: iptables under emulation
	// on a loaded host has taken more than 10 s.
	waitTable(t, exampleTable, 60*time.Second)
	if out := run(t, "ip", "-br", "addr", "show", "dev", "ipvs0"); !strings.Contains(out, "192.0.2.10/32") {
		t.Fatalf("VIP not bound: %s", out)
	}
	if out := run(t, "iptables-save", "-t", "nat"); !strings.Contains(out, "-j IPVSD-POSTROUTING") {
		t.Fatalf("NAT service without masquerade rules:\n%s", out)
	}

	// wrr 3:1 over new connections is exact per round.
	got := tally(t, client, "http://192.0.2.10/", 40)
	if got["be1"] != 30 || got["be2"] != 10 {
		t.Fatalf("weighted split: %v, want be1 30, be2 10", got)
	}

	// Kill be1: quiesced (weight 0) after fall x interval (3 x 1s, with
	// 10% jitter) plus a check in flight and the sync. How long it took
	// is logged, not asserted: the emulated CPU is shared.
	bes[0].stop()
	took := waitTable(t, strings.Replace(exampleTable, "10.100.1.2:8080 Masq 3", "10.100.1.2:8080 Masq 0", 1), 30*time.Second)
	t.Logf("be1 quiesced %v after it stopped (fall x interval: 3 s)", took)
	waitLog(t, d, "backend down", 10*time.Second)
	if got := tally(t, client, "http://192.0.2.10/", 8); got["be2"] != 8 {
		t.Fatalf("traffic while be1 is down: %v", got)
	}
	// The sticky service lost its quorum (2) and keeps both backends.
	if !strings.Contains(table(t), "TCP 192.0.2.10:8080 sh (sh-port) persistent 300 mask 255.255.255.0\n  -> 10.100.1.2:8080 Masq 1") {
		t.Fatalf("sticky service below quorum changed:\n%s", table(t))
	}

	// Both down: the sorry server takes the traffic.
	bes[1].stop()
	waitTable(t, `
TCP 192.0.2.10:80 wrr
  -> 10.100.1.2:8080 Masq 0
  -> 10.100.2.2:8080 Masq 0
  -> 10.100.9.2:8080 Masq 1
TCP 192.0.2.10:8080 sh (sh-port) persistent 300 mask 255.255.255.0
  -> 10.100.1.2:8080 Masq 1
  -> 10.100.2.2:8080 Masq 1`, 30*time.Second)
	if got := tally(t, client, "http://192.0.2.10/", 3); got["sorry"] != 3 {
		t.Fatalf("traffic with every backend down: %v", got)
	}

	// Back: rise (2) successes bring them in, and the sorry server leaves:
	// it drains (weight 0) while its connections are still counted.
	bes[0].start(t)
	bes[1].start(t)
	took = waitTable(t, exampleTable, 30*time.Second, strings.Replace(exampleTable,
		"10.100.2.2:8080 Masq 1\n", "10.100.2.2:8080 Masq 1\n  -> 10.100.9.2:8080 Masq 0\n", 1))
	t.Logf("backends restored %v after they came back", took)

	code, body, err := httpGet("http://127.0.0.1:9578/healthz")
	if err != nil || code != 200 {
		t.Fatalf("/healthz: %d %q %v", code, body, err)
	}
	_, metrics, err := httpGet("http://127.0.0.1:9578/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ipvsd_healthcheck_transitions_total{backend="10.100.1.2:8080",service="web",to="down"} 1`,
		`ipvsd_backend_up{backend="10.100.1.2:8080",service="web"} 1`,
		`ipvsd_virtual_server_connections_total{service="web",virtual_server="TCP 192.0.2.10:80"}`,
		`ipvsd_sync_duration_seconds_count{result="ok"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !d.running() {
		t.Fatal("ipvsd exited")
	}
}

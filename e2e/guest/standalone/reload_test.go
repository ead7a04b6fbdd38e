//go:build lab

package standalone

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

const reloadBase = `
services:
  - name: echo
    vip: 10.96.0.10
    port: 9000
    scheduler: rr
    backends: [{address: 10.100.1.2}, {address: 10.100.2.2}]
  - name: web
    vip: 10.96.0.11
    port: 80
    scheduler: wrr
    backends: [{address: 10.100.1.2, port: 8080}]
`

const echoBlock = `TCP 10.96.0.10:9000 rr
  -> 10.100.1.2:9000 Masq 1
  -> 10.100.2.2:9000 Masq 1`

// TestReload: a reload that edits one service parses that service alone
// and leaves an established connection through the other untouched; an
// invalid file is rejected and the running state kept; SIGHUP reloads too.
func TestReload(t *testing.T) {
	record := setup(t)
	client := nettest.NewPeer(t, "client", "10.200.0.2", "10.200.0.1")
	for i := 1; i <= 2; i++ {
		be := nettest.NewPeer(t, fmt.Sprintf("be%d", i), fmt.Sprintf("10.100.%d.2", i), fmt.Sprintf("10.100.%d.1", i))
		be.ServeTCP(t, 9000, be.Name)
		be.ServeHTTP(t, 8080, be.Name)
	}
	path := filepath.Join(t.TempDir(), "standalone.yaml")
	writeFile(t, path, reloadBase)
	d := startDaemon(t, record, path, "--metrics-addr", "", "--watch-interval", "200ms")
	waitTable(t, echoBlock+`
TCP 10.96.0.11:80 wrr
  -> 10.100.1.2:8080 Masq 1`, 30*time.Second)

	_, conn, err := client.TCPHello("10.96.0.10:9000", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echo(t, conn, "before reload")

	// Edit web only: a new backend and a new weight.
	edited := strings.Replace(reloadBase, "backends: [{address: 10.100.1.2, port: 8080}]",
		"backends: [{address: 10.100.1.2, port: 8080, weight: 2}, {address: 10.100.2.2, port: 8080}]", 1)
	writeFile(t, path, edited)
	want := echoBlock + `
TCP 10.96.0.11:80 wrr
  -> 10.100.1.2:8080 Masq 2
  -> 10.100.2.2:8080 Masq 1`
	waitTable(t, want, 20*time.Second)
	// Only web's text changed: the real daemon parsed it alone.
	waitLog(t, d, `"servicesParsed": 1,`, 20*time.Second)
	echo(t, conn, "after reload")
	if got := tally(t, client, "http://10.96.0.11/", 6); got["be1"] != 4 || got["be2"] != 2 {
		t.Fatalf("edited service: %v", got)
	}

	// An invalid file: rejected with its problems, state kept.
	writeFile(t, path, strings.Replace(edited, "port: 9000", "port: 90000", 1))
	waitLog(t, d, "services[echo].port: must be 1-65535", 20*time.Second)
	time.Sleep(time.Second)
	if got := table(t); got != want {
		t.Fatalf("an invalid reload changed the table:\n%s", got)
	}
	echo(t, conn, "after invalid reload")
	if !d.running() {
		t.Fatal("ipvsd exited on an invalid reload")
	}
	d.stop(t)

	// SIGHUP with polling off: a restart adopts the state without a
	// write, and the signal applies the edit.
	writeFile(t, path, edited)
	d = startDaemon(t, record, path, "--metrics-addr", "", "--watch-interval", "0")
	waitLog(t, d, "standalone mode", 20*time.Second)
	time.Sleep(time.Second)
	writeFile(t, path, strings.Replace(edited, "weight: 2", "weight: 7", 1))
	time.Sleep(500 * time.Millisecond)
	if !strings.Contains(table(t), "10.100.1.2:8080 Masq 2") {
		t.Fatalf("changed without SIGHUP although polling is off:\n%s", table(t))
	}
	d.signal(t, syscall.SIGHUP)
	waitTable(t, strings.Replace(want, "Masq 2", "Masq 7", 1), 20*time.Second)
	echo(t, conn, "after SIGHUP and a restart")
}

// echo writes a line on conn and requires it back.
func echo(t *testing.T, conn net.Conn, msg string) {
	t.Helper()
	if err := nettest.Echo(conn, msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

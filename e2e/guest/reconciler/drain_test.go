//go:build lab

package reconciler

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// TestDrainBusyRealServer removes a real server that carries a live
// connection: it goes to weight 0, new connections avoid it, the live one
// keeps working, and it is deleted once its connection is gone, well before
// the drain timeout.
func TestDrainBusyRealServer(t *testing.T) {
	n, client, conn, busy, keep := busyBackend(t, time.Minute)
	ctx := context.Background()

	res, err := n.rec.Sync(ctx, echoService(time.Minute, keep))
	if err != nil || res.DrainsStarted != 1 {
		t.Fatalf("removing %s: %s, %v", busy, res.String(), err)
	}
	table := ipvsadm(t, "-Ln")
	if !containsFields(table, "-> "+busy.String()+":9000 Masq 0 1") {
		t.Fatalf("draining real server should show weight 0 and one active connection:\n%s", table)
	}
	for i := 0; i < 4; i++ {
		name, c, err := client.TCPHello(vip.String()+":9000", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if name != keep.Name {
			t.Fatalf("new connection %d went to the draining %s", i, name)
		}
	}
	echo(t, conn, "still served while draining")
	// Still there while the connection lives.
	if res, err := n.rec.Sync(ctx, echoService(time.Minute, keep)); err != nil || res.DrainsFinished != 0 {
		t.Fatalf("drain finished with a live connection: %s, %v", res.String(), err)
	}

	// Close with a reset: IPVS moves the entry to CLOSE (10 s) rather than
	// TIME_WAIT (2 min), so the counts reach zero within the test.
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
	start := time.Now()
	deadline := start.Add(40 * time.Second)
	for {
		res, err := n.rec.Sync(ctx, echoService(time.Minute, keep))
		if err != nil {
			t.Fatal(err)
		}
		if res.DrainsFinished == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drain never finished after the connection closed:\n%s", ipvsadm(t, "-Lnc"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("drained real server deleted %s after its last connection closed (timeout was 60 s)", time.Since(start).Round(time.Millisecond))
	if table := ipvsadm(t, "-Ln"); strings.Contains(table, busy.String()+":9000") {
		t.Fatalf("drained real server still present:\n%s", table)
	}
}

// TestDrainTimeout deletes a draining real server whose connection never
// ends once its drain timeout passes.
func TestDrainTimeout(t *testing.T) {
	const timeout = 3 * time.Second
	n, _, _, busy, keep := busyBackend(t, timeout)
	ctx := context.Background()
	start := time.Now()
	for {
		res, err := n.rec.Sync(ctx, echoService(timeout, keep))
		if err != nil {
			t.Fatal(err)
		}
		if res.DrainsFinished == 1 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("drain timeout never fired:\n%s", ipvsadm(t, "-Ln"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	took := time.Since(start)
	if took < timeout {
		t.Fatalf("deleted after %s, before the %s drain timeout, with a live connection", took, timeout)
	}
	if table := ipvsadm(t, "-Ln"); strings.Contains(table, busy.String()+":9000") {
		t.Fatalf("timed-out real server still present:\n%s", table)
	}
	t.Logf("busy real server deleted %s after removal (drain timeout %s)", took.Round(time.Millisecond), timeout)
}

// busyBackend programs the echo service over both backends with the given
// drain timeout and opens a long-lived connection through it. It returns
// the node, the client, the open connection, the address of the backend
// that took it and the other backend.
func busyBackend(t *testing.T, drain time.Duration) (*node, *nettest.Peer, net.Conn, netip.Addr, *nettest.Peer) {
	t.Helper()
	record := cleanKernel(t)
	client, bes := backends(t)
	n := newNode(t, record, reconciler.Config{DrainCheckInterval: 500 * time.Millisecond})
	t.Cleanup(n.close)
	if _, err := n.rec.Sync(context.Background(), echoService(drain, bes...)); err != nil {
		t.Fatal(err)
	}
	busyName, conn, err := client.TCPHello(vip.String()+":9000", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var keep *nettest.Peer
	for _, be := range bes {
		if be.Name != busyName {
			keep = be
		}
	}
	return n, client, conn, peerAddr(t, bes, busyName), keep
}

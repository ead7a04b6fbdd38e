//go:build lab

package reconciler

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

var vip = netip.MustParseAddr("10.96.0.10")

// backends creates a client namespace and two backend namespaces, each
// backend running the echo server on port 9000 that greets with its name.
func backends(t *testing.T) (client *nettest.Peer, bes []*nettest.Peer) {
	t.Helper()
	for path, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward": "1",
	} {
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	client = nettest.NewPeer(t, "client", "10.200.0.2", "10.200.0.1")
	for i := 1; i <= 2; i++ {
		be := nettest.NewPeer(t, fmt.Sprintf("be%d", i), fmt.Sprintf("10.100.%d.2", i), fmt.Sprintf("10.100.%d.1", i))
		be.ServeTCP(t, 9000, be.Name)
		bes = append(bes, be)
	}
	return client, bes
}

func echoService(drain time.Duration, bes ...*nettest.Peer) desired.State {
	vs := desired.VirtualServer{
		Service: ipvs.Service{
			Key:       ipvs.Key{Family: ipvs.IPv4, Address: vip, Protocol: ipvs.TCP, Port: 9000},
			Scheduler: "rr",
		},
		Owner:        "test/echo",
		DrainTimeout: drain,
	}
	for _, be := range bes {
		a, _ := netip.AddrFromSlice(be.Addr.To4())
		vs.Destinations = append(vs.Destinations, ipvs.Destination{
			DestKey: ipvs.DestKey{Address: a, Port: 9000}, Weight: 1, Forwarding: ipvs.Masquerade,
		})
	}
	d := desired.State{Services: []desired.VirtualServer{vs}}
	d.Addresses = d.ServiceAddresses()
	return d
}

// TestForeignServicesUntouched: services ipvsd did not create, on another
// VIP and on our own VIP's address with another port, keep their exact
// configuration through syncs, full resyncs, restarts and the removal of
// everything ipvsd owns.
func TestForeignServicesUntouched(t *testing.T) {
	record := cleanKernel(t)
	ipvsadm(t, "-A", "-t", "192.0.2.50:80", "-s", "wlc", "-p", "120")
	ipvsadm(t, "-a", "-t", "192.0.2.50:80", "-r", "10.1.1.1:80", "-g", "-w", "5")
	ipvsadm(t, "-A", "-t", vip.String()+":8443", "-s", "sh", "-b", "sh-port")
	ipvsadm(t, "-a", "-t", vip.String()+":8443", "-r", "10.1.1.2:443", "-m", "-w", "0")
	ipvsadm(t, "-A", "-f", "99", "-s", "rr")
	before := foreignLines(ipvsadm(t, "-Ln"))

	n := newNode(t, record, reconciler.Config{})
	ctx := context.Background()
	states := []desired.State{
		echoService(-1, &nettest.Peer{Addr: net.ParseIP("10.100.1.2")}),
		echoService(-1, &nettest.Peer{Addr: net.ParseIP("10.100.1.2")}, &nettest.Peer{Addr: net.ParseIP("10.100.2.2")}),
		{},
	}
	for i, st := range states {
		for _, full := range []bool{false, true} {
			if full {
				n.rec.RequestFullResync()
			}
			if res, err := n.rec.Sync(ctx, st); err != nil {
				t.Fatalf("state %d: %v (%s)", i, err, res.String())
			}
			if got := foreignLines(ipvsadm(t, "-Ln")); got != before {
				t.Fatalf("state %d full=%v: foreign services changed:\n%s\nwant\n%s", i, full, got, before)
			}
		}
		if i == 1 { // restart in the middle
			n.close()
			n = newNode(t, record, reconciler.Config{})
		}
	}
	n.close()
	if got := ipvsadm(t, "-Ln"); !strings.Contains(got, "192.0.2.50:80") || strings.Contains(got, ":9000") {
		t.Fatalf("final table:\n%s", got)
	}
}

// foreignLines keeps the blocks of services that are not ours (port 9000).
func foreignLines(table string) string {
	var out []string
	keep := false
	for _, l := range strings.Split(table, "\n") {
		if !strings.HasPrefix(l, "  ") {
			keep = !strings.Contains(l, ":9000 ")
		}
		if keep {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConnectionSurvivesRestart: a long-lived TCP connection through the
// VIP keeps working while the reconciler is stopped and a new one adopts the
// kernel state with zero writes, including a real server a crash left at
// weight 0 in the middle of a drain.
func TestConnectionSurvivesRestart(t *testing.T) {
	record := cleanKernel(t)
	client, bes := backends(t)
	want := echoService(time.Minute, bes...)
	ctx := context.Background()

	n := newNode(t, record, reconciler.Config{})
	if _, err := n.rec.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	hello, conn, err := client.TCPHello(vip.String()+":9000", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echo(t, conn, "before restart")
	n.close()

	n = newNode(t, record, reconciler.Config{})
	res, err := n.rec.Sync(ctx, want)
	if err != nil || res.Writes() != 0 {
		t.Fatalf("adopting an identical state: %s, %v", res.String(), err)
	}
	echo(t, conn, "after restart")

	// A crash mid-drain: the other backend was at weight 0 when the daemon
	// died, and the new process wants it back.
	other := want.Services[0].Destinations[0]
	if other.Address == peerAddr(t, bes, hello) {
		other = want.Services[0].Destinations[1]
	}
	ipvsadm(t, "-e", "-t", vip.String()+":9000", "-r", other.DestKey.String(), "-m", "-w", "0")
	n.close()
	n = newNode(t, record, reconciler.Config{})
	res, err = n.rec.Sync(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got, exp := ipvsadm(t, "-Ln"), "-> "+other.DestKey.String(); !containsFields(got, exp+" Masq 1") {
		t.Fatalf("weight not restored after a crash mid-drain (%s):\n%s", res.String(), got)
	}
	echo(t, conn, "after crash recovery")
	n.close()
}

func containsFields(table, want string) bool {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(l), " "), want) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the backend that greeted with name.
func peerAddr(t *testing.T, bes []*nettest.Peer, name string) netip.Addr {
	t.Helper()
	for _, be := range bes {
		if be.Name == name {
			a, _ := netip.AddrFromSlice(be.Addr.To4())
			return a
		}
	}
	t.Fatalf("no backend named %q", name)
	return netip.Addr{}
}

// echo writes a line on conn and requires it back.
func echo(t *testing.T, conn net.Conn, msg string) {
	t.Helper()
	if err := nettest.Echo(conn, msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

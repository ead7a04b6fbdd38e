//go:build lab

package packaging

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

const (
	vipURL = "http://192.0.2.10/"
	// config is one NAT service to a backend in a namespace routed
	// through the node, masqueraded so the backend needs no route back.
	config = `interface: ipvs0
masquerade: all
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    backends: [{address: 10.244.2.2, port: 8080}]
`
)

// pool is the other agent's (Calico-like) pod pool: the backend is in it.
var pool = netip.MustParsePrefix("10.244.0.0/16")

// world is one test's network: a client and a backend namespace off the
// node (the VM's own namespace), and an empty IPVS table.
type world struct {
	client *nettest.Peer
	record string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	lab.ResetIPVS(t, hostenv.DefaultInterface)
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &world{record: filepath.Join(t.TempDir(), "state.json")}
	w.client = nettest.NewPeer(t, "pk-client", "192.168.50.2", "192.168.50.1")
	be := nettest.NewPeer(t, "pk-be", "10.244.2.2", "10.244.2.1")
	be.ServeHTTP(t, 8080, "be")
	return w
}

// daemon is a running `ipvsd standalone`.
type daemon struct {
	cmd  *exec.Cmd
	log  *lab.LogBuffer
	done chan error
}

// start runs ipvsd standalone with config; stop (or the test's end)
// sends SIGTERM.
func (w *world) start(t *testing.T) *daemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), "standalone.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &daemon{log: &lab.LogBuffer{Echo: os.Stderr}, done: make(chan error, 1)}
	d.cmd = exec.Command("ipvsd", "standalone", "--config", path, "--record", w.record, "--metrics-addr", "")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("ipvsd exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("ipvsd ignored SIGTERM")
	}
}

// waitServed waits until the client reaches the backend through the VIP;
// on failure it shows both back-ends' rules, where the cause would be.
func (w *world) waitServed(t *testing.T, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, err := w.client.HTTPGet(vipURL, 2*time.Second)
		if err == nil && body == "be" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s from the client: %q, %v\nnft:\n%s\nlegacy:\n%s\nipvsd log:\n%s", vipURL, body, err,
				firewalltest.SaveAll(t, firewall.ModeNFT, ipvs.IPv4), firewalltest.SaveAll(t, firewall.ModeLegacy, ipvs.IPv4), d.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run runs a command and returns its combined output, failing the test
// if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

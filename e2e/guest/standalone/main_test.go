//go:build lab

package standalone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// ExampleConfig is where the host test puts examples/standalone.yaml.
const ExampleConfig = "/etc/ipvsd/standalone.yaml"

// daemon is a running `ipvsd standalone`.
type daemon struct {
	cmd    *exec.Cmd
	log    *lab.LogBuffer
	done   chan struct{}
	err    error
	record string
}

// setup empties the kernel's IPVS table and removes ipvsd's traces before
// and after the test, and returns a record path for the test's daemons.
func setup(t *testing.T) string {
	t.Helper()
	clean := func() {
		run(t, "ipvsadm", "-C")
		// The record is empty: this removes only our firewall chains and sets.
		_ = exec.Command("ipvsd", "cleanup", "--record", filepath.Join(os.TempDir(), "ipvsd-setup-record.json")).Run()
		_ = exec.Command("/sbin/ip", "link", "del", "ipvs0").Run()
	}
	clean()
	t.Cleanup(clean)
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(t.TempDir(), "state.json")
}

// startDaemon runs ipvsd standalone with args after --config path; it is
// stopped with SIGTERM at the end of the test.
func startDaemon(t *testing.T, record, path string, args ...string) *daemon {
	t.Helper()
	full := append([]string{"standalone", "--config", path, "--record", record}, args...)
	d := &daemon{log: &lab.LogBuffer{Echo: os.Stderr}, done: make(chan struct{}), record: record}
	d.cmd = exec.Command("ipvsd", full...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("ipvsd exited with %v after SIGTERM", d.err)
		}
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("ipvsd ignored SIGTERM for 10s")
	}
}

func (d *daemon) signal(t *testing.T, s os.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// table is `ipvsadm -Ln` reduced to what a config decides: service lines,
// and real server lines without their connection counts, each service's
// block sorted, blocks sorted.
func table(t *testing.T) string {
	t.Helper()
	out := run(t, "ipvsadm", "-Ln")
	var blocks [][]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0 || strings.HasPrefix(l, "IP Virtual") || strings.HasPrefix(l, "Prot") || strings.Contains(l, "RemoteAddress"):
		case f[0] == "->":
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], "  -> "+strings.Join(f[1:4], " "))
		default:
			blocks = append(blocks, []string{strings.Join(f, " ")})
		}
	}
	var lines []string
	slices.SortFunc(blocks, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	for _, b := range blocks {
		slices.Sort(b[1:])
		lines = append(lines, b...)
	}
	return strings.Join(lines, "\n")
}

// waitTable waits until table() is want (or one of the alternatives) and
// returns how long that took.
func waitTable(t *testing.T, want string, timeout time.Duration, alternatives ...string) time.Duration {
	t.Helper()
	wants := []string{strings.TrimSpace(want)}
	for _, a := range alternatives {
		wants = append(wants, strings.TrimSpace(a))
	}
	start := time.Now()
	var got string
	for time.Since(start) < timeout {
		if got = table(t); slices.Contains(wants, got) {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("IPVS table after %v:\n%s\nwant:\n%s\nfull:\n%s", timeout, got, strings.Join(wants, "\nor\n"), run(t, "ipvsadm", "-Ln"))
	return 0
}

// httpServer is a backend that can be stopped and started again, as a
// crashing and restarting service would.
type httpServer struct {
	ns   *nettest.NS
	port int
	name string
	srv  *http.Server
}

func newHTTPServer(t *testing.T, ns *nettest.NS, port int, name string) *httpServer {
	t.Helper()
	s := &httpServer{ns: ns, port: port, name: name}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func (s *httpServer) start(t *testing.T) {
	t.Helper()
	var l net.Listener
	if err := s.ns.Do(func() (err error) { l, err = net.Listen("tcp", ":"+strconv.Itoa(s.port)); return err }); err != nil {
		t.Fatal(err)
	}
	name := s.name
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, name)
	})}
	go func() { _ = s.srv.Serve(l) }()
}

func (s *httpServer) stop() {
	if s.srv != nil {
		_ = s.srv.Shutdown(context.Background())
		s.srv = nil
	}
}

// tally sends n requests and counts the answers by backend name.
func tally(t *testing.T, client *nettest.Peer, url string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		body, err := client.HTTPGet(url, 3*time.Second)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		got[body]++
	}
	return got
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write and rename, as config managers do, so the daemon never reads
	// half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitLog(t *testing.T, d *daemon, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(d.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("ipvsd never logged %q", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), errors.Join(err)
}

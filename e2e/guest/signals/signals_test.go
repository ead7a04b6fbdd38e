//go:build lab

package signals

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// deadline bounds each wait for ipvsd: one that never comes is the
// defect, reported as a failure instead of a hung VM. Generous, because
// the emulated CPU is slow; nothing is measured.
const deadline = 2 * time.Minute

// blackHole is an API server that accepts connections and never answers.
// It reports each accepted connection on conns.
func blackHole(t *testing.T) (addr string, conns <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 100)
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String(), ch
}

func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "http://` + server + `"}
contexts:
- name: lab
  context: {cluster: lab, user: lab}
users:
- name: lab
  user: {}
current-context: lab
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunStopsWhileWaitingForAPIServer starts `ipvsd run` against an API
// server that never answers and sends SIGTERM once ipvsd is connected and
// waiting: it must stop cleanly, exit status 0, without a second signal.
func TestRunStopsWhileWaitingForAPIServer(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			lab.ResetIPVS(t, "ipvs0")
			addr, conns := blackHole(t)
			cmd := exec.Command("ipvsd", "run", "--kubeconfig", kubeconfig(t, addr), "--hostname-override", "lab",
				"--metrics-bind-address", "", "--healthz-bind-address", "", "--record", filepath.Join(t.TempDir(), "state.json"))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			lines := make(chan string, 1000)
			exited := make(chan error, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
				exited <- cmd.Wait()
			}()

			select {
			case <-conns:
			case <-time.After(deadline):
				t.Fatalf("ipvsd did not connect to the API server at %s within %v", addr, deadline)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var seen []string
			timeout := time.After(deadline)
			for lines != nil {
				select {
				case l, ok := <-lines:
					if !ok {
						lines = nil
						break
					}
					seen = append(seen, l)
				case <-timeout:
					t.Fatalf("ipvsd did not stop within %v of one %v; stderr:\n%s", deadline, sig, strings.Join(seen, "\n"))
				}
			}
			err = <-exited
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			log := strings.Join(seen, "\n")
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status %d after one %v, want 0 (a clean stop); stderr:\n%s", code, sig, log)
			}
			for _, want := range []string{"stopping (a second signal forces exit)", "ipvsd: stopped: "} {
				if !strings.Contains(log, want) {
					t.Errorf("stderr lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

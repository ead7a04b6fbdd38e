//go:build lab

package list

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// result is what a command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return result{out.String(), errb.String(), ee.ExitCode()}
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return result{out.String(), errb.String(), 0}
}

// ipvsadm runs the guest's ipvsadm -L with args.
func ipvsadm(t *testing.T, args ...string) result {
	return run(t, "/usr/sbin/ipvsadm", append([]string{"-L"}, args...)...)
}

func ipvsd(t *testing.T, args ...string) result {
	return run(t, "ipvsd", append([]string{"list"}, args...)...)
}

// same requires ipvsd list and ipvsadm -L to print the same for args.
// Counters, rates and connection timers move while the two run, so ipvsd
// runs between two ipvsadm runs and each of its lines must be the same
// line of one of them; a table that changed shape in between, or a line
// that matches neither, is retried.
func same(t *testing.T, args ...string) string {
	t.Helper()
	return sameAs(t, append([]string{"-L"}, args...), args)
}

// sameAs is same for `ipvsadm adm...` and `ipvsd list args...`, for
// command lines that differ (or do not, as with -Ln).
func sameAs(t *testing.T, adm, args []string) string {
	t.Helper()
	for try := 0; ; try++ {
		before := run(t, "/usr/sbin/ipvsadm", adm...)
		got := ipvsd(t, args...)
		if before.code != 0 {
			t.Fatalf("ipvsadm %v failed (%d): %s", adm, before.code, before.stderr)
		}
		if got == before {
			return before.stdout
		}
		after := run(t, "/usr/sbin/ipvsadm", adm...)
		b, g, a := lines(before.stdout), lines(got.stdout), lines(after.stdout)
		if len(b) != len(a) || len(b) != len(g) {
			if try < 20 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
		} else if got.code == 0 && got.stderr == "" {
			ok := true
			for i := range g {
				ok = ok && (g[i] == b[i] || g[i] == a[i] || expiresBetween(b[i], g[i], a[i]))
			}
			if ok {
				return before.stdout
			}
			if try < 5 {
				// On a loaded host a connection's expiry timer can tick
				// twice while the three run: look again before judging.
				continue
			}
		}
		if got.code != 0 || got.stderr != "" {
			t.Errorf("ipvsd list %v: exit %d, stderr %q", args, got.code, got.stderr)
		}
		if diff := cmp.Diff(before.stdout, got.stdout); diff != "" {
			t.Errorf("ipvsd list %v differs from ipvsadm %v (-ipvsadm +ipvsd):\n%s", args, adm, diff)
		}
		return before.stdout
	}
}

func lines(s string) []string { return strings.SplitAfter(s, "\n") }

// expiresBetween: connection-table lines b (ipvsadm before), g (ipvsd)
// and a (ipvsadm after) differ only in the expiry column ("01:31"), and
// g's lies between the two others': the timer ticked more than once while
// the three ran, as it does on a loaded emulated host.
func expiresBetween(b, g, a string) bool {
	fb, fg, fa := strings.Fields(b), strings.Fields(g), strings.Fields(a)
	if len(fg) < 3 || len(fb) != len(fg) || len(fa) != len(fg) {
		return false
	}
	for i := range fg {
		if i != 1 && (fg[i] != fb[i] || fg[i] != fa[i]) {
			return false
		}
	}
	eb, okb := mmss(fb[1])
	eg, okg := mmss(fg[1])
	ea, oka := mmss(fa[1])
	return okb && okg && oka && ea <= eg && eg <= eb
}

// mmss reads an expiry "MM:SS" as seconds.
func mmss(s string) (int, bool) {
	m, sec, ok := strings.Cut(s, ":")
	if !ok {
		return 0, false
	}
	mi, err1 := strconv.Atoi(m)
	si, err2 := strconv.Atoi(sec)
	return mi*60 + si, err1 == nil && err2 == nil
}

// flush empties the table now and when t ends.
func flush(t *testing.T) {
	t.Helper()
	if r := run(t, "/usr/sbin/ipvsadm", "-C"); r.code != 0 {
		t.Fatalf("ipvsadm -C: %s", r.stderr)
	}
	t.Cleanup(func() { run(t, "/usr/sbin/ipvsadm", "-C") })
}

func handle(t *testing.T) *ipvs.Handle {
	t.Helper()
	h, err := ipvs.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// withHosts appends lines to /etc/hosts for the test, so the non-numeric
// listings have names to print, and restores the file afterwards.
func withHosts(t *testing.T, lines ...string) {
	t.Helper()
	old, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile("/etc/hosts", old, 0o644); err != nil {
			t.Error(err)
		}
	})
	if err := os.WriteFile("/etc/hosts", []byte(string(old)+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listingArgs are ipvsadm's listing options, each combination once with
// -n and once without.
var listingArgs = [][]string{
	{},
	{"--sort"},
	{"--nosort"},
	{"--stats"},
	{"--stats", "--exact"},
	{"--rate"},
	{"--rate", "--exact"},
	{"--thresholds"},
	{"--persistent-conn"},
}

func withNumeric(args []string) [][]string {
	return [][]string{append([]string{"-n"}, args...), args}
}

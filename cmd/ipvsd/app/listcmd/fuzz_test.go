package listcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds list's option parser arbitrary command lines (arguments
// separated by NUL). It must never panic; the same arguments must give
// the same options or the same error; and accepted options must list a
// table, the same bytes every time, without panicking.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "-Ln", "-L\x00-n", "-Lnc", "-lnc", "--list\x00--numeric", "-LnX\x00--rate", "-Ln\x00--stats\x00--exact",
		"-Lnt\x0010.96.0.10:80", "-Lt10.96.0.10:80\x00-n", "--list\x00-n\x00--tcp-service=[2001:db8::1]:53",
		"-Lnf\x007\x00-6", "-Lnf7", "-u\x00web:domain", "--sctp-service\x0010.96.0.11:5060\x00--thresholds",
		"-n\x00--owners", "--drift\x00-o\x00json", "-o\x00yaml\x00-c", "-L\x00--persistent-conn\x00-c", "--nosort\x00--sort",
		"-Ln\x00foo", "-Lnx", "-L\x00--nu", "-Ln\x00-t", "-Ln\x00-6", "-Ln\x00-c\x00--stats", "-Lnc\x00-t\x0010.0.0.1:80",
		"-t\x001.2.3.4:80\x00-f\x001", "-o\x00xml", "--numeric=false\x00-Ln", "-Ln\x00--\x00-c", "-\x00--",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	hosts, services, conns := filepath.Join(dir, "hosts"), filepath.Join(dir, "services"), filepath.Join(dir, "ip_vs_conn")
	for path, content := range map[string]string{
		hosts:    "10.96.0.10 web\n2001:db8::1 dns6\n",
		services: "http 80/tcp\ndomain 53/tcp\ndomain 53/udp\n",
		conns: "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n" +
			"TCP 0AC80002 A1B2 0A60000A 0050 0A640102 1F90 ESTABLISHED     899\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	k, _ := table()
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		if line == "" {
			args = nil
		}
		opts, err := parse(args)
		again, errAgain := parse(args)
		if diff := cmp.Diff(opts, again); diff != "" || errText(err) != errText(errAgain) {
			t.Fatalf("%q parsed twice differently: %v then %v (-first +second):\n%s", args, err, errAgain, diff)
		}
		if err != nil {
			return
		}
		// The run directory is the test's, whatever --run-dir said.
		opts.RunDir = t.TempDir()
		deps := Deps{Kernel: func() (Kernel, error) { return k, nil }, ConnPath: conns, HostsPath: hosts, ServicesPath: services}
		var out, again2 bytes.Buffer
		err = Run(opts, deps, &out, &bytes.Buffer{})
		errAgain = Run(opts, deps, &again2, &bytes.Buffer{})
		if out.String() != again2.String() || errText(err) != errText(errAgain) {
			t.Fatalf("%q listed twice differently: %v then %v\n%s\n---\n%s", args, err, errAgain, out.String(), again2.String())
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

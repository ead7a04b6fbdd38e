package lab

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestScanConsole(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		wantOut  string
		lockups  int
	}{
		{"marker", "boot\r\nIPVSD-LAB-EXIT=0\r\n", 0, "boot\nIPVSD-LAB-EXIT=0\n", 0},
		{"failure", "x\nIPVSD-LAB-EXIT=3\n[ 1.0] reboot: Power down\n", 3, "x\nIPVSD-LAB-EXIT=3\n[ 1.0] reboot: Power down\n", 0},
		{"escapes stripped", "\x1b[?7l\x1b[2Jhello\x1bc\r\n", -1, "hello\n", 0},
		{"no marker", "kernel panic\n", -1, "kernel panic\n", 0},
		{"garbled marker", "IPVSD-LAB-EXIT=x\n", -1, "IPVSD-LAB-EXIT=x\n", 0},
		{"short stall", "[ 56.9] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [a:1]\nIPVSD-LAB-EXIT=0\n", 0,
			"[ 56.9] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [a:1]\nIPVSD-LAB-EXIT=0\n", 0},
		{"lockup reported once", "watchdog: BUG: soft lockup - CPU#1 stuck for 71s! [a:1]\n trace\nwatchdog: BUG: soft lockup - CPU#0 stuck for 104s! [b:2]\n", -1,
			"watchdog: BUG: soft lockup - CPU#1 stuck for 71s! [a:1]\n trace\nwatchdog: BUG: soft lockup - CPU#0 stuck for 104s! [b:2]\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			lockups := 0
			if got := scanConsole(strings.NewReader(tt.in), &out, func() { lockups++ }); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
			if lockups != tt.lockups {
				t.Errorf("%d lockups reported, want %d", lockups, tt.lockups)
			}
			if out.String() != tt.wantOut {
				t.Errorf("output %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestRunScript(t *testing.T) {
	got := runScript(Config{
		Run: []Binary{{Name: "a.test", Args: []string{"-test.v", "-test.run=X'Y"}}, {Name: "b.test"}},
		Env: map[string]string{"B": "2", "A": "1"},
	})
	want := `#!/bin/sh
export IPVSD_LAB_GUEST=1 PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo 5 >/proc/sys/kernel/printk
echo 1 >/proc/sys/kernel/softlockup_all_cpu_backtrace 2>/dev/null
export A='1'
export B='2'
cd /lab/bin
status=0
echo '=== lab: running a.test'
'/lab/bin/a.test' '-test.v' '-test.run=X'\''Y'
rc=$?
echo "=== lab: a.test exited $rc"
[ $status -eq 0 ] && status=$rc
echo '=== lab: running b.test'
'/lab/bin/b.test'
rc=$?
echo "=== lab: b.test exited $rc"
[ $status -eq 0 ] && status=$rc
exit $status
`
	if got != want {
		t.Errorf("run.sh:\n%s\nwant:\n%s", got, want)
	}
}

// The archive must be readable by cpio(1) the way the kernel reads it:
// names, modes and contents intact.
func TestArchiveIsValidNewc(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Fatal("cpio is needed (make deps installs it)")
	}
	dir := unpack(t, func(a *archive) error {
		a.dir("lab")
		a.file("lab/run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
		a.file("lab/odd", []byte("12345"), 0o644)
		return nil
	}, map[string]string{"lab/run.sh": "#!/bin/sh\necho hi\n", "lab/odd": "12345"})
	if fi, err := os.Stat(filepath.Join(dir, "lab/run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode: %v, %v", fi, err)
	}
}

// unpack builds an archive with fill, extracts it with cpio(1) the way the
// kernel reads it, checks the files in want and returns the directory.
func unpack(t *testing.T, fill func(*archive) error, want map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var buf bytes.Buffer
	a := newArchive(&buf)
	if err := fill(a); err != nil {
		t.Fatal(err)
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "gzip -dc | cpio -id --quiet")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v\n%s", err, out)
	}
	for name, w := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != w {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	return dir
}

// Config.Files land at their guest paths with parent directories created,
// from Data or from a host file.
func TestAddFiles(t *testing.T) {
	host := filepath.Join(t.TempDir(), "host.txt")
	if err := os.WriteFile(host, []byte("from host"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := unpack(t, func(a *archive) error {
		return addFiles(a, []File{
			{GuestPath: "/lab/kube/admin.kubeconfig", Data: []byte("apiVersion: v1\n"), Mode: 0o600},
			{GuestPath: "/lab/kube/deep/x.txt", HostPath: host},
		})
	}, map[string]string{"lab/kube/admin.kubeconfig": "apiVersion: v1\n", "lab/kube/deep/x.txt": "from host"})
	if fi, err := os.Stat(filepath.Join(dir, "lab/kube/admin.kubeconfig")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode: %v, %v", fi, err)
	}
	if err := addFiles(newArchive(&bytes.Buffer{}), []File{{GuestPath: "relative", Data: []byte{}}}); err == nil {
		t.Error("a relative guest path was accepted")
	}
}

func TestPackagingScript(t *testing.T) {
	got := runScript(Config{Packaging: PackagingPlainNFTSuffixedLegacy, Script: "true"})
	want := `#!/bin/sh
export IPVSD_LAB_GUEST=1 PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo 5 >/proc/sys/kernel/printk
echo 1 >/proc/sys/kernel/softlockup_all_cpu_backtrace 2>/dev/null
export IPVSD_LAB_PACKAGING='plain-nft+legacy'
for t in iptables ip6tables; do for s in '' -save -restore; do
	rm -f /usr/sbin/$t-nft$s
	ln -sf xtables-nft-multi /usr/sbin/$t$s
done; done
cd /lab/bin
status=0
true
exit $?
`
	if got != want {
		t.Errorf("run.sh:\n%s\nwant:\n%s", got, want)
	}
	if got := packagingScript(PackagingDebian); got != "" {
		t.Errorf("the base packaging changes the image:\n%s", got)
	}
	if err := writeInitrd("/dev/null", filepath.Join(t.TempDir(), "initrd"), Config{Packaging: "alpine"}); err == nil {
		t.Error("an unknown packaging was accepted")
	}
}

//go:build lab

package list

import (
	"encoding/json"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
)

func dest(ap string, w int) ipvs.Destination {
	a := netip.MustParseAddrPort(ap)
	return ipvs.Destination{DestKey: ipvs.DestKey{Address: a.Addr(), Port: a.Port()}, Weight: w}
}

// TestOwnersAndDrift runs a reconciler, then reads its record and desired
// state through `ipvsd list --owners` and `--drift` while the kernel is
// changed behind its back.
func TestOwnersAndDrift(t *testing.T) {
	flush(t)
	h := handle(t)
	dir := t.TempDir()
	runDir := "--run-dir=" + dir

	// Without a daemon: no owners, and --drift says why it cannot tell.
	if r := ipvsd(t, "-n", "--owners", runDir); r.code != 0 || !strings.Contains(r.stderr, "no ownership record") {
		t.Errorf("--owners without a record: %+v", r)
	}
	if r := ipvsd(t, "--drift", runDir); r.code != 1 || !strings.Contains(r.stderr, "no desired state published") {
		t.Errorf("--drift without a daemon: %+v", r)
	}

	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(dir, "state.json")}, reconciler.Deps{Kernel: h})
	if err != nil {
		t.Fatal(err)
	}
	web := desired.VirtualServer{Service: ipvs.Service{Key: key(ipvs.TCP, "10.96.0.10:80"), Scheduler: "rr"}, Owner: "web",
		Destinations: []ipvs.Destination{dest("10.100.1.2:8080", 1), dest("10.100.2.2:8080", 2)}}
	dns := desired.VirtualServer{Service: ipvs.Service{Key: key(ipvs.UDP, "10.96.0.11:53"), Scheduler: "wrr"}, Owner: "kube-system/kube-dns:dns",
		Destinations: []ipvs.Destination{dest("10.100.1.3:53", 1)}}
	if _, err := rec.Sync(t.Context(), desired.State{Services: []desired.VirtualServer{web, dns}}); err != nil {
		t.Fatal(err)
	}
	// A service someone else made.
	run(t, "/usr/sbin/ipvsadm", "-A", "-t", "192.0.2.9:22", "-s", "lc")

	got := ipvsd(t, "-n", "--owners", runDir)
	// In ipvsadm's order, whose address comparison wraps: 192.0.2.9 is
	// more than 2^31 above 10.96.0.10, so it sorts first.
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Owner                    Prot LocalAddress:Port Scheduler Flags\n" +
		"                           -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"(foreign)                TCP  192.0.2.9:22 lc\n" +
		"web                      TCP  10.96.0.10:80 rr\n" +
		"                           -> 10.100.1.2:8080              Masq    1      0          0         \n" +
		"                           -> 10.100.2.2:8080              Masq    2      0          0         \n" +
		"kube-system/kube-dns:dns UDP  10.96.0.11:53 wrr\n" +
		"                           -> 10.100.1.3:53                Masq    1      0          0         \n"
	if diff := cmp.Diff(want, got.stdout); diff != "" || got.code != 0 {
		t.Errorf("--owners (exit %d, %s):\n%s", got.code, got.stderr, diff)
	}
	var listing struct {
		Services []struct {
			Owner   string
			Foreign bool
		}
	}
	if err := json.Unmarshal([]byte(ipvsd(t, "-o", "json", "--owners", runDir).stdout), &listing); err != nil {
		t.Fatal(err)
	}
	if len(listing.Services) != 3 || !listing.Services[0].Foreign || listing.Services[1].Owner != "web" {
		t.Errorf("-o json --owners: %+v", listing)
	}

	if r := ipvsd(t, "--drift", runDir); r != (result{}) {
		t.Errorf("--drift in sync: %+v, want no output and exit 0", r)
	}
	// Hands on the table. ipvsadm gives a direct-routing real server the
	// service's port.
	run(t, "/usr/sbin/ipvsadm", "-e", "-t", "10.96.0.10:80", "-r", "10.100.2.2:8080", "-m", "-w", "7")
	run(t, "/usr/sbin/ipvsadm", "-a", "-t", "10.96.0.10:80", "-r", "10.100.3.2:8080", "-g")
	run(t, "/usr/sbin/ipvsadm", "-E", "-t", "10.96.0.10:80", "-s", "wlc")
	run(t, "/usr/sbin/ipvsadm", "-D", "-u", "10.96.0.11:53")
	r := ipvsd(t, "--drift", runDir)
	wantDrift := "changed  TCP 10.96.0.10:80 (web): scheduler wlc, want rr\n" +
		"  changed  10.100.2.2:8080: weight 7, want 2\n" +
		"  extra    10.100.3.2:80\n" +
		"missing  UDP 10.96.0.11:53 (kube-system/kube-dns:dns)\n"
	if diff := cmp.Diff(wantDrift, r.stdout); diff != "" || r.code != 1 {
		t.Errorf("--drift (exit %d, stderr %q):\n%s", r.code, r.stderr, diff)
	}
}

// TestMachineReadable checks that -o json and -o yaml carry the dump's
// values, with 64-bit counters exact.
func TestMachineReadable(t *testing.T) {
	flush(t)
	h := handle(t)
	k := key(ipvs.TCP, "10.96.0.10:80")
	if err := h.AddService(ipvs.Service{Key: k, Scheduler: "rr", Timeout: 30, Netmask: 24}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddDestination(k, ipvs.Destination{DestKey: dest("10.100.1.2:80", 0).DestKey, Weight: math.MaxInt32, Forwarding: ipvs.Tunnel}); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "yaml"} {
		r := ipvsd(t, "-o", format)
		if r.code != 0 {
			t.Fatalf("-o %s: %+v", format, r)
		}
		for _, want := range []string{"10.96.0.10", "2147483647", "Tunnel", "persistent", "1.2.1"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("-o %s lacks %q:\n%s", format, want, r.stdout)
			}
		}
	}
	if r := ipvsd(t, "-c", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"connections"`) {
		t.Errorf("-c -o json: %+v", r)
	}
}

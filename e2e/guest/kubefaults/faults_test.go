//go:build lab

package kubefaults

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

const (
	recordPath = "/run/ipvsd/state.json"
	// kills is how many times the daemon is killed before the clean start.
	kills = 5
	// kubernetesService is the API server's own Service, the first
	// address of the lab's Service range (apiserver.ServiceCIDR).
	kubernetesService = "-t 10.96.0.1:443"
)

// TestKillDuringColdSync kills `ipvsd run` with SIGKILL at seeded random
// moments of its cold sync (in the middle of its writes while any are
// left), five times in a row, stopping and starting the
// API server during the even-numbered runs; then starts it once more and
// lets it finish. The kernel's table (read with ipvsadm) must then be
// exactly the one the host computed from the objects it created, plus the
// foreign services added here, unchanged; and the ownership record must
// name exactly our virtual servers and addresses.
func TestKillDuringColdSync(t *testing.T) {
	seed, err := strconv.ParseUint(os.Getenv("IPVSD_E2E_SEED"), 10, 64)
	if err != nil {
		t.Fatalf("IPVSD_E2E_SEED: %v", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b756265))
	want := expectedLines(t)
	window := killWindow(t)
	admin := adminClient(t)
	lab.ResetIPVS(t, link)
	foreign := addForeign(t, want)
	for l := range foreign.lines {
		want[l] = true
	}
	t.Logf("seed %d: %d expected lines (%d foreign), kill window %s", seed, len(want), len(foreign.lines), window)

	last := foreign
	for i := 1; i <= kills; i++ {
		last = killRun(t, admin, rng, i, window, want, last)
	}
	waitFor(t, 3*time.Minute, func() string {
		if !apiReady(admin) {
			return "the API server did not come back"
		}
		return ""
	})

	d := startDaemon(t, "ipvsd-clean")
	took := waitFor(t, 10*time.Minute, func() string {
		d.alive(t)
		if !healthy() {
			return "ipvsd run never became healthy"
		}
		return ""
	})
	t.Logf("clean start: healthy after %s", took.Round(time.Millisecond))
	var lost, wrong []string
	reads := 0
	converged := waitFor(t, 3*time.Minute, func() string {
		d.alive(t)
		reads++
		lost, wrong = diff(readTable(t), want)
		if len(lost)+len(wrong) > 0 {
			return strconv.Itoa(len(lost)) + " lost and " + strconv.Itoa(len(wrong)) + " wrong entries"
		}
		return ""
	})
	t.Logf("clean start: table equal to the desired one at read %d of ipvsadm -Sn, %s after healthy; lost entries %d, wrong entries %d",
		reads, converged.Round(time.Millisecond), len(lost), len(wrong))
	checkOwnership(t, readTable(t), foreign, want)
	d.stop(t, syscall.SIGTERM)
	if d.err != nil {
		t.Errorf("ipvsd run on SIGTERM: %v", d.err)
	}
}

// killRun starts the daemon and kills it in the middle of its writes:
// ipvsd creates virtual servers in address order, so the test picks one
// of those still missing at random and kills the daemon the moment the
// kernel has it (a one-service read, cheap enough to poll often). Once nothing
// is missing, it kills a random span after the informers synced instead.
// On even runs the API server is stopped and started first, at a random
// moment of the listing or the programming. It logs what the kernel held
// at the kill and returns that table.
func killRun(t *testing.T, admin kubernetes.Interface, rng *rand.Rand, i int, window time.Duration, want map[string]bool, last table) table {
	t.Helper()
	missing := missingServices(last, want)
	target, after := "", randDuration(rng, 0, window)
	if len(missing) > 0 {
		// From the first half: the writes go on while the test notices,
		// and work must be left for the runs after this one.
		target = missing[rng.IntN((len(missing)+1)/2)]
	}
	d := startDaemon(t, "ipvsd-run"+strconv.Itoa(i))
	api := "no"
	if i%2 == 0 {
		api = restartAPIServer(t, admin, rng, d, window)
	}
	moment := ""
	if target != "" {
		for deadline := time.Now().Add(10 * time.Minute); !present(target); time.Sleep(20 * time.Millisecond) {
			d.alive(t)
			if time.Now().After(deadline) {
				t.Fatalf("run %d: ipvsd run never created %s", i, target)
			}
		}
		moment = fmt.Sprintf("as %s (one of %d missing) appeared", target, len(missing))
	} else {
		waitFor(t, 10*time.Minute, func() string {
			d.alive(t)
			if !d.logged(informersSynced) {
				return "ipvsd run never synced its informers"
			}
			return ""
		})
		time.Sleep(time.Until(d.start.Add(d.seen + after)))
		moment = fmt.Sprintf("%s after its informers synced at %s, nothing missing", after.Round(time.Millisecond), d.seen.Round(time.Millisecond))
	}
	d.alive(t)
	done, listed := healthy(), d.logged(informersSynced)
	at := since(d)
	d.stop(t, syscall.SIGKILL)
	got := readTable(t)
	svcs, svcsWant, dests, destsWant := progress(got, want)
	_, wrong := diff(got, want)
	// The API server takes its own endpoint out of the kubernetes
	// Service while it shuts down, so ipvsd rightly drains that real
	// server during a restart; the final check requires it back.
	var apiDrain []string
	wrong = slices.DeleteFunc(wrong, func(l string) bool {
		drain := serviceOf(l) == kubernetesService && strings.HasSuffix(l, " -w 0")
		if drain {
			apiDrain = append(apiDrain, l)
		}
		return drain
	})
	t.Logf("run %d: SIGKILL at %s, %s (informers synced: %v; sync already finished: %v; API server restart: %s); kernel then: %d/%d virtual servers, %d/%d real servers, %d unexpected lines, %d draining kubernetes endpoints %v",
		i, at, moment, listed, done, api, svcs, svcsWant, dests, destsWant, len(wrong), len(apiDrain), apiDrain)
	if len(wrong) > 0 {
		t.Errorf("run %d: after the kill the kernel holds lines nobody wanted:\n%s", i, strings.Join(first(wrong, 20), "\n"))
	}
	return got
}

// restartAPIServer asks the host to stop the API server at a random
// moment within window of the daemon's start, waits until it is gone,
// and asks for it back after a random gap; it does not wait for that.
func restartAPIServer(t *testing.T, admin kubernetes.Interface, rng *rand.Rand, d *daemon, window time.Duration) string {
	t.Helper()
	stopAt := randDuration(rng, 0, window)
	gap := randDuration(rng, 0, 3*time.Second)
	time.Sleep(time.Until(d.start.Add(stopAt)))
	d.alive(t)
	apiserver.RequestHostAction(apiserver.ActionStopAPIServer)
	waitFor(t, time.Minute, func() string {
		if apiReady(admin) {
			return "the API server still answers after the stop request"
		}
		return ""
	})
	stopped := since(d)
	time.Sleep(gap)
	apiserver.RequestHostAction(apiserver.ActionStartAPIServer)
	return "stop asked at " + stopAt.Round(time.Millisecond).String() + ", down at " + stopped + ", start asked at " + since(d)
}

// missingServices are our expected virtual servers (not the kubernetes
// one, whose real server an API restart changes) that last lacks, in the
// order ipvsd creates them: by address.
func missingServices(last table, want map[string]bool) []string {
	var out []string
	for l := range want {
		if s := serviceOf(l); strings.HasPrefix(l, "-A -t ") && s != kubernetesService && !last.services[s] {
			out = append(out, s)
		}
	}
	addr := func(s string) netip.AddrPort { return netip.MustParseAddrPort(strings.TrimPrefix(s, "-t ")) }
	slices.SortFunc(out, func(a, b string) int { return addr(a).Compare(addr(b)) })
	return out
}

// present reports whether the kernel has virtual server svc ("-t
// 10.96.0.10:80"), reading only that one.
func present(svc string) bool {
	return exec.Command("ipvsadm", append([]string{"-Ln"}, strings.Fields(svc)...)...).Run() == nil
}

// checkOwnership compares the ownership record with the kernel: its
// services are exactly the kernel's non-foreign ones (and those are the
// expected ones), its addresses exactly those on the dummy link.
func checkOwnership(t *testing.T, got, foreign table, want map[string]bool) {
	t.Helper()
	recSvcs, recAddrs := readRecord(t, recordPath)
	ours, wantSvcs, wantAddrs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for s := range got.services {
		if !foreign.services[s] {
			ours[s] = true
		}
	}
	for l := range want {
		if s := serviceOf(l); strings.HasPrefix(l, "-A ") && !foreign.services[s] {
			wantSvcs[s] = true
			wantAddrs[strings.SplitN(strings.Fields(l)[2], ":", 2)[0]] = true
		}
	}
	if onlyRec, onlyKernel := setDiff(recSvcs, ours); len(onlyRec)+len(onlyKernel) > 0 {
		t.Errorf("ownership record and kernel differ: %d only in the record %v, %d ours only in the kernel %v",
			len(onlyRec), first(onlyRec, 10), len(onlyKernel), first(onlyKernel, 10))
	}
	if a, b := setDiff(ours, wantSvcs); len(a)+len(b) > 0 {
		t.Errorf("our virtual servers: %d unexpected %v, %d missing %v", len(a), first(a, 10), len(b), first(b, 10))
	}
	for s := range foreign.services {
		if recSvcs[s] {
			t.Errorf("the record claims the foreign service %s", s)
		}
	}
	onLink := linkAddresses(t)
	if a, b := setDiff(recAddrs, onLink); len(a)+len(b) > 0 {
		t.Errorf("record addresses and %s differ: %d only recorded %v, %d only on the link %v", link, len(a), first(a, 10), len(b), first(b, 10))
	}
	if a, b := setDiff(onLink, wantAddrs); len(a)+len(b) > 0 {
		t.Errorf("addresses on %s: %d unexpected %v, %d missing %v", link, len(a), first(a, 10), len(b), first(b, 10))
	}
	t.Logf("ownership record: %d virtual servers and %d addresses, the kernel's own %d and %s's %d; foreign services untouched: %v",
		len(recSvcs), len(recAddrs), len(ours), link, len(onLink), keys(foreign.services))
}

// addForeign adds virtual servers another program would own: one on an
// address of its own, one on one of our ClusterIPs with a port no Service
// has, and a firewall-mark service. It returns them as ipvsadm lists them.
func addForeign(t *testing.T, want map[string]bool) table {
	t.Helper()
	var ours string
	for l := range want {
		if strings.HasPrefix(l, "-A -t 10.96.") && !strings.HasPrefix(l, "-A -t 10.96.0.1:") {
			ours = strings.SplitN(strings.Fields(l)[2], ":", 2)[0]
			break
		}
	}
	if ours == "" {
		t.Fatal("no ClusterIP in the expected table")
	}
	for _, args := range [][]string{
		{"-A", "-t", "192.0.2.99:22", "-s", "lc"},
		{"-a", "-t", "192.0.2.99:22", "-r", "192.0.2.100:22", "-g", "-w", "3"},
		{"-A", "-t", ours + ":81", "-s", "wlc"},
		{"-a", "-t", ours + ":81", "-r", "10.15.0.1:81", "-m", "-w", "2"},
		{"-A", "-f", "77", "-s", "sh"},
	} {
		run(t, "ipvsadm", args...)
	}
	foreign := readTable(t)
	if len(foreign.services) != 3 || len(foreign.lines) != 5 {
		t.Fatalf("foreign services as listed: %v", keys(foreign.lines))
	}
	return foreign
}

func expectedLines(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(os.Getenv("IPVSD_E2E_KUBEFAULTS_EXPECTED"))
	if err != nil {
		t.Fatalf("the expected table from the host: %v", err)
	}
	return parseTable(string(b)).lines
}

// killWindow is the span of the kill moments after the informers synced:
// about as long as programming the Services the host created takes in the
// lab from an empty table.
func killWindow(t *testing.T) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(os.Getenv("IPVSD_E2E_KUBEFAULTS_SERVICES"))
	if err != nil {
		t.Fatalf("IPVSD_E2E_KUBEFAULTS_SERVICES: %v", err)
	}
	if v := os.Getenv("IPVSD_E2E_KUBEFAULTS_WINDOW"); v != "" {
		w, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IPVSD_E2E_KUBEFAULTS_WINDOW: %v", err)
		}
		return w
	}
	// Measured: 3,000 Services took 45-65 s from the informers' sync
	// to healthy, most of it binding 3,000 ClusterIPs one netlink request
	// at a time and the firewall's sets, before the IPVS writes.
	return 5*time.Second + time.Duration(n)*15*time.Millisecond
}

func randDuration(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

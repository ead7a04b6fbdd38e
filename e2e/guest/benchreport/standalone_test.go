//go:build lab

package benchreport

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

const (
	standaloneConfig  = "/etc/ipvsd/standalone.yaml"
	standaloneMetrics = "http://127.0.0.1:9578"
)

// TestStandalone: `ipvsd standalone` as a user starts it, on a generated
// file of NAT services (no health checks), then one backend weight edit
// at a time by atomic rename, each timed until the kernel has it.
func TestStandalone(t *testing.T) {
	r := runFromEnv(t)
	const mode = benchreport.Standalone
	weights := map[int]int{}
	writeConfig(t, r.services, weights)
	h := openIPVS(t)

	d := start(t, "ipvsd", "standalone", "--config", standaloneConfig, "--metrics-addr", "127.0.0.1:9578")
	cold := d.waitFor(t, "healthy (first full sync done)", r.coldTimeout, 100*time.Millisecond, func() bool {
		return guestutil.HTTPOK(standaloneMetrics + "/healthz")
	})
	figure(mode, r.services, benchreport.KeyCold, cold.Seconds())
	requireRealServers(t, h, mode, r.services, r.services*benchreport.Backends)

	w0 := mustMetric(t, standaloneMetrics+"/metrics", "ipvsd_ipvs_netlink_writes_total")
	for k := range r.changes {
		s := k % r.services
		weights[s] = benchreport.ChangedWeight(k, r.services)
		key := tcpKey(benchreport.StandaloneVIP(s))
		be := ipvsAddrPort(benchreport.StandaloneVIP(s), s)
		writeConfigTo(t, standaloneConfig+".new", r.services, weights)
		t0 := time.Now()
		if err := os.Rename(standaloneConfig+".new", standaloneConfig); err != nil {
			t.Fatal(err)
		}
		want := weights[s]
		figure(mode, r.services, benchreport.KeyChange, waitChange(t, d, t0, func() bool {
			return hasDest(h, key, be, func(w int) bool { return w == want })
		}))
	}
	w1 := mustMetric(t, standaloneMetrics+"/metrics", "ipvsd_ipvs_netlink_writes_total")
	figure(mode, r.services, benchreport.KeyWritesChanges, w1-w0)
	if w1-w0 < float64(r.changes) {
		t.Errorf("%v IPVS writes for %d weight changes that each reached the kernel: the counter misses writes", w1-w0, r.changes)
	}

	afterFirstResync(t, d, standaloneMetrics+"/metrics", r.coldTimeout)
	d.idle(t, mode, r.services, r.idle)
	figure(mode, r.services, benchreport.KeyPeakRSS, d.peakRSSKiB(t))
	// SIGTERM leaves the table in place: the floor restores the same one.
	d.stop(t)
	restoreFloor(t, mode, r.services)
}

// ipvsAddrPort is backend 0 of service s as the kernel lists it: the
// file gives no port, so it is the service's.
func ipvsAddrPort(vip netip.AddrPort, s int) netip.AddrPort {
	return netip.AddrPortFrom(benchreport.EndpointIP(s, 0), vip.Port())
}

func writeConfig(t *testing.T, n int, weights map[int]int) {
	t.Helper()
	if err := os.MkdirAll("/etc/ipvsd", 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfigTo(t, standaloneConfig, n, weights)
}

func writeConfigTo(t *testing.T, path string, n int, weights map[int]int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := benchreport.WriteStandaloneConfig(f, n, weights); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

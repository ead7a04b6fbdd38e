//go:build lab

package syncd

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/ipvs"
)

// rendered is what `ipvsadm -L --daemon` prints for what h lists.
func rendered(t *testing.T, h ipvs.SyncDaemons) string {
	t.Helper()
	ds, err := h.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

// TestIPVSAdmAgrees: daemons started and stopped through ipvs.Handle and
// by ipvsadm are seen alike by both, and listed in the same words.
func TestIPVSAdmAgrees(t *testing.T) {
	ns := newSyncNS(t)
	h, err := ipvs.New("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	same := func(step string) {
		t.Helper()
		got, ours := guestutil.SyncDaemons(t, ns), rendered(t, h)
		if got != ours {
			t.Errorf("%s: ipvsadm -L --daemon:\n%s\nipvs.Handle:\n%s", step, got, ours)
		}
		t.Logf("%s:\n%s", step, got)
	}
	same("none")
	if err := h.StartSyncDaemon(ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "sync0", SyncID: 7}); err != nil {
		t.Fatal(err)
	}
	same("master started by ipvsd")
	ns.Run(t, "/usr/sbin/ipvsadm", "--start-daemon", "backup", "--mcast-interface", "sync0", "--syncid", "9")
	same("backup started by ipvsadm")
	ds, err := h.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[1].State != ipvs.SyncBackup || ds[1].Interface != "sync0" || ds[1].SyncID != 9 {
		t.Errorf("ipvs.Handle sees %+v; want the master and ipvsadm's backup on sync0 with sync ID 9", ds)
	}
	ns.Run(t, "/usr/sbin/ipvsadm", "--stop-daemon", "master")
	same("master stopped by ipvsadm")
	if err := h.StopSyncDaemon(ipvs.SyncBackup); err != nil {
		t.Fatal(err)
	}
	same("backup stopped by ipvsd")
	if got := guestutil.SyncDaemons(t, ns); got != "" {
		t.Errorf("daemons left: %s", got)
	}
}

// TestStandaloneLeavesOthersAlone: `ipvsd standalone` with a sync:
// section whose interface does not exist programs its services all the
// same and names the interface; a reload that fixes it starts the master,
// /metrics shows both daemons, and sloppy TCP and SCTP are on (there is
// an SCTP service);
// a backup started by hand is seen and left alone, by the daemon, by its
// stop and by `ipvsd cleanup`, which stops only ipvsd's master.
func TestStandaloneLeavesOthersAlone(t *testing.T) {
	ns := newSyncNS(t)
	ns.Run(t, "/usr/sbin/ipvsadm", "--start-daemon", "backup", "--mcast-interface", "sync0", "--syncid", "9")
	const services = `
services:
  - {name: dr, vip: 192.0.2.30, port: 80, forwarding: dr, backends: [{address: 10.1.0.1}]}
  - {name: diameter, vip: 192.0.2.31, port: 3868, protocol: sctp, forwarding: dr, backends: [{address: 10.1.0.2}]}
`
	path := writeConfig(t, "standalone.yaml", "sync: {interface: nosuch0, syncID: 7, role: master}\n"+services)
	record := recordIn(t)
	d := guestutil.StartIPVSD(t, "ipvsd", ns, "standalone", "--config", path, "--record", record,
		"--iptables-mode", "none", "--metrics-addr", "127.0.0.1:9578", "--watch-interval", "200ms")
	guestutil.Eventually(t, 60*time.Second, func() string {
		if out := ns.Run(t, "/usr/sbin/ipvsadm", "-Ln"); !strings.Contains(out, "192.0.2.30:80") || !strings.Contains(out, "192.0.2.31:3868") {
			return "the services are not programmed:\n" + out
		}
		return ""
	})
	d.WaitLog(t, "starting the master sync daemon on nosuch0 (sync ID 7)", 30*time.Second)
	backup := "backup sync daemon (mcast=sync0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
	if got := guestutil.SyncDaemons(t, ns); got != backup {
		t.Errorf("with a missing interface: daemons\n%s\nwant the hand-started backup only:\n%s", got, backup)
	}

	// Fixed by a reload (atomic rename, as documented).
	fixed := writeConfig(t, "fixed.yaml", "sync: {interface: sync0, syncID: 7, role: master}\n"+services)
	guestutil.Run(t, "mv", fixed, path)
	master := "master sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
	guestutil.Eventually(t, 60*time.Second, func() string {
		if got := guestutil.SyncDaemons(t, ns); got != master+backup {
			return "daemons after the reload:\n" + got
		}
		return ""
	})
	for _, name := range []string{"sloppy_tcp", "sloppy_sctp"} {
		if got := strings.TrimSpace(ns.Run(t, "cat", "/proc/sys/net/ipv4/vs/"+name)); got != "1" {
			t.Errorf("%s = %s, want 1 with a sync: section and an SCTP service", name, got)
		}
	}

	metrics, err := ns.HTTPGet("http://127.0.0.1:9578/metrics", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ipvsd_sync_daemon_running{interface="sync0",role="master",sync_id="7"} 1`,
		`ipvsd_sync_daemon_running{interface="sync0",role="backup",sync_id="9"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	d.Stop(t, syscall.SIGTERM)
	if err := d.Err(); err != nil {
		t.Errorf("ipvsd on SIGTERM: %v", err)
	}
	if got := guestutil.SyncDaemons(t, ns); got != master+backup {
		t.Errorf("SIGTERM changed the daemons:\n%s", got)
	}
	out := ns.Run(t, "ipvsd", "cleanup", "--record", record, "--iptables-mode", "none")
	if !strings.Contains(out, "stopped the master sync daemon") || strings.Contains(out, "backup") {
		t.Errorf("cleanup said:\n%s\nwant the master stopped and nothing about the backup", out)
	}
	if got := guestutil.SyncDaemons(t, ns); got != backup {
		t.Errorf("after cleanup: daemons\n%s\nwant the hand-started backup only:\n%s", got, backup)
	}
}

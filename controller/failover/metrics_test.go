package failover

import (
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// gather renders the collector's series as name{labels} value lines.
func gather(t *testing.T, c prometheus.Collector) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					s += ","
				}
				s += l.GetName() + "=" + l.GetValue()
			}
			out = append(out, s+"} "+strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64))
		}
	}
	return out
}

func TestCollector(t *testing.T) {
	k := ipvstest.NewSyncDaemons("eth1")
	if err := k.StartSyncDaemon(ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 7}); err != nil {
		t.Fatal(err)
	}
	c := NewCollector(k)
	want := []string{
		"ipvsd_sync_daemon_running{interface=eth1,role=backup,sync_id=7} 1",
		"ipvsd_sync_daemon_scrape_error{} 0",
	}
	if diff := cmp.Diff(want, gather(t, c)); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	k.FailNext(errors.New("no IPVS"))
	if diff := cmp.Diff([]string{"ipvsd_sync_daemon_scrape_error{} 1"}, gather(t, c)); diff != "" {
		t.Errorf("series when the kernel cannot be read (-want +got):\n%s", diff)
	}
}

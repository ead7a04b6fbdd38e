package failover

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/ipvs"
)

func daemon(s ipvs.SyncState, iface string, id uint8) ipvs.SyncDaemon {
	return ipvs.SyncDaemon{State: s, Interface: iface, SyncID: id}
}

// running is d as the kernel shows it, with its defaults filled in.
func running(d ipvs.SyncDaemon) ipvs.SyncDaemon {
	d.MaxLen, d.Group, d.Port, d.TTL = 1472, ipvs.DefaultSyncGroup, ipvs.DefaultSyncPort, ipvs.DefaultSyncTTL
	return d
}

func TestPlan(t *testing.T) {
	m1, m2 := daemon(ipvs.SyncMaster, "eth1", 1), daemon(ipvs.SyncMaster, "eth1", 2)
	b1, b1eth2 := daemon(ipvs.SyncBackup, "eth1", 1), daemon(ipvs.SyncBackup, "eth2", 1)
	for _, tc := range []struct {
		name                 string
		want, running, owned []ipvs.SyncDaemon
		ops                  []Op
		own, foreign         []ipvs.SyncDaemon
	}{
		{name: "nothing"},
		{name: "start", want: []ipvs.SyncDaemon{m1},
			ops: []Op{{Role: ipvs.SyncMaster, Start: &m1}}, own: []ipvs.SyncDaemon{m1}},
		{name: "ours as asked", want: []ipvs.SyncDaemon{m1}, running: []ipvs.SyncDaemon{running(m1)}, owned: []ipvs.SyncDaemon{m1},
			own: []ipvs.SyncDaemon{m1}},
		{name: "someone else's as asked: left theirs", want: []ipvs.SyncDaemon{m1}, running: []ipvs.SyncDaemon{running(m1)},
			foreign: []ipvs.SyncDaemon{running(m1)}},
		{name: "ours with another sync ID: restarted", want: []ipvs.SyncDaemon{m2}, running: []ipvs.SyncDaemon{running(m1)}, owned: []ipvs.SyncDaemon{m1},
			ops: []Op{{Role: ipvs.SyncMaster, Stop: true, Start: &m2}}, own: []ipvs.SyncDaemon{m2}},
		{name: "someone else's on another interface: the config's role wins", want: []ipvs.SyncDaemon{b1}, running: []ipvs.SyncDaemon{running(b1eth2)},
			ops: []Op{{Role: ipvs.SyncBackup, Stop: true, Start: &b1, Foreign: true}}, own: []ipvs.SyncDaemon{b1}},
		{name: "ours no longer wanted: stopped", running: []ipvs.SyncDaemon{running(m1), running(b1)}, owned: []ipvs.SyncDaemon{m1, b1},
			ops: []Op{{Role: ipvs.SyncMaster, Stop: true}, {Role: ipvs.SyncBackup, Stop: true}}},
		{name: "someone else's not wanted: left running", running: []ipvs.SyncDaemon{running(b1)},
			foreign: []ipvs.SyncDaemon{running(b1)}},
		{name: "ours restarted by hand with other settings: theirs now", running: []ipvs.SyncDaemon{running(m2)}, owned: []ipvs.SyncDaemon{m1},
			foreign: []ipvs.SyncDaemon{running(m2)}},
		{name: "ours stopped by hand: started again", want: []ipvs.SyncDaemon{m1}, owned: []ipvs.SyncDaemon{m1},
			ops: []Op{{Role: ipvs.SyncMaster, Start: &m1}}, own: []ipvs.SyncDaemon{m1}},
		{name: "both, one already running someone else's", want: []ipvs.SyncDaemon{m1, b1}, running: []ipvs.SyncDaemon{running(b1)},
			ops: []Op{{Role: ipvs.SyncMaster, Start: &m1}}, own: []ipvs.SyncDaemon{m1}, foreign: []ipvs.SyncDaemon{running(b1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, own, foreign := Plan(tc.want, tc.running, tc.owned)
			opt := cmpopts.EquateComparable(netip.Addr{})
			if diff := cmp.Diff(tc.ops, ops, opt); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.own, own, opt); diff != "" {
				t.Errorf("owned after (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.foreign, foreign, opt); diff != "" {
				t.Errorf("foreign (-want +got):\n%s", diff)
			}
		})
	}
}

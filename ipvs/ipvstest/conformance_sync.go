package ipvstest

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/ipvs"
)

// NewSyncDaemons returns a namespace with no sync daemon running and the
// name of a link in it with an MTU of 1500, cleaned up with t.
type NewSyncDaemonsFunc func(t *testing.T) (ipvs.SyncDaemons, string)

// RunSyncDaemonConformance runs one table of sync daemon behaviour: each
// start, stop and listing, the defaults the kernel fills in, and every
// error with its errno. Run against the fake on the host and against
// ipvs.Handle in the kernel lab, it proves the fake fails where the
// kernel does.
func RunSyncDaemonConformance(t *testing.T, newNS NewSyncDaemonsFunc) {
	t.Run("Lifecycle", func(t *testing.T) { testSyncLifecycle(t, newNS) })
	t.Run("Settings", func(t *testing.T) { testSyncSettings(t, newNS) })
	t.Run("Errors", func(t *testing.T) { testSyncErrors(t, newNS) })
	t.Run("StopRightAfterStart", func(t *testing.T) { testSyncStopRightAfterStart(t, newNS) })
}

// testSyncStopRightAfterStart stops each daemon as soon as it started,
// many times: the kernel then often stops a thread that never ran, and
// answers that stop with no reply at all (see ipvs.Handle.StopSyncDaemon).
func testSyncStopRightAfterStart(t *testing.T, newNS NewSyncDaemonsFunc) {
	k, link := newNS(t)
	for i := range 20 {
		for _, s := range []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup} {
			if err := k.StartSyncDaemon(ipvs.SyncDaemon{State: s, Interface: link, SyncID: uint8(i)}); err != nil {
				t.Fatalf("round %d: starting %s: %v", i, s, err)
			}
			if err := k.StopSyncDaemon(s); err != nil {
				t.Fatalf("round %d: stopping %s right after its start: %v", i, s, err)
			}
		}
	}
	wantSync(t, k)
}

func listSync(t *testing.T, k ipvs.SyncDaemons) []ipvs.SyncDaemon {
	t.Helper()
	got, err := k.SyncDaemons()
	if err != nil {
		t.Fatalf("SyncDaemons: %v", err)
	}
	return got
}

func wantSync(t *testing.T, k ipvs.SyncDaemons, want ...ipvs.SyncDaemon) {
	t.Helper()
	if want == nil {
		want = []ipvs.SyncDaemon{}
	}
	if diff := cmp.Diff(want, listSync(t, k), cmpAddrs); diff != "" {
		t.Errorf("sync daemons (-want +got):\n%s", diff)
	}
}

func wantErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: got %v, want %v", what, err, errno)
	}
}

func testSyncLifecycle(t *testing.T, newNS NewSyncDaemonsFunc) {
	k, link := newNS(t)
	wantSync(t, k)
	master := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: link, SyncID: 7}
	if err := k.StartSyncDaemon(master); err != nil {
		t.Fatalf("starting master: %v", err)
	}
	defaults := func(d ipvs.SyncDaemon) ipvs.SyncDaemon {
		d.MaxLen, d.Group, d.Port, d.TTL = 1472, ipvs.DefaultSyncGroup, ipvs.DefaultSyncPort, ipvs.DefaultSyncTTL
		return d
	}
	wantSync(t, k, defaults(master))
	wantErrno(t, "starting master again", k.StartSyncDaemon(master), syscall.EEXIST)
	backup := ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: link, SyncID: 255}
	if err := k.StartSyncDaemon(backup); err != nil {
		t.Fatalf("starting backup beside the master: %v", err)
	}
	wantSync(t, k, defaults(master), defaults(backup))
	wantErrno(t, "starting backup again", k.StartSyncDaemon(backup), syscall.EEXIST)
	if err := k.StopSyncDaemon(ipvs.SyncMaster); err != nil {
		t.Fatalf("stopping master: %v", err)
	}
	wantSync(t, k, defaults(backup))
	wantErrno(t, "stopping master again", k.StopSyncDaemon(ipvs.SyncMaster), syscall.ESRCH)
	if err := k.StopSyncDaemon(ipvs.SyncBackup); err != nil {
		t.Fatalf("stopping backup: %v", err)
	}
	wantSync(t, k)
	wantErrno(t, "stopping backup again", k.StopSyncDaemon(ipvs.SyncBackup), syscall.ESRCH)
}

func testSyncSettings(t *testing.T, newNS NewSyncDaemonsFunc) {
	for _, tc := range []struct {
		name      string
		give, got ipvs.SyncDaemon
	}{
		{"every setting",
			ipvs.SyncDaemon{State: ipvs.SyncBackup, SyncID: 3, MaxLen: 1200, Group: netip.MustParseAddr("239.1.2.3"), Port: 9000, TTL: 4},
			ipvs.SyncDaemon{State: ipvs.SyncBackup, SyncID: 3, MaxLen: 1200, Group: netip.MustParseAddr("239.1.2.3"), Port: 9000, TTL: 4}},
		{"backup message size raised to 1024",
			ipvs.SyncDaemon{State: ipvs.SyncBackup, MaxLen: 100},
			ipvs.SyncDaemon{State: ipvs.SyncBackup, MaxLen: 1024, Group: ipvs.DefaultSyncGroup, Port: ipvs.DefaultSyncPort, TTL: 1}},
		{"master message size kept",
			ipvs.SyncDaemon{State: ipvs.SyncMaster, MaxLen: 100},
			ipvs.SyncDaemon{State: ipvs.SyncMaster, MaxLen: 100, Group: ipvs.DefaultSyncGroup, Port: ipvs.DefaultSyncPort, TTL: 1}},
		{"IPv6 group: larger headers",
			ipvs.SyncDaemon{State: ipvs.SyncMaster, Group: netip.MustParseAddr("ff02::1:81")},
			ipvs.SyncDaemon{State: ipvs.SyncMaster, MaxLen: 1452, Group: netip.MustParseAddr("ff02::1:81"), Port: ipvs.DefaultSyncPort, TTL: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, link := newNS(t)
			tc.give.Interface, tc.got.Interface = link, link
			if err := k.StartSyncDaemon(tc.give); err != nil {
				t.Fatalf("StartSyncDaemon(%+v): %v", tc.give, err)
			}
			wantSync(t, k, tc.got)
			// A clamped size is not what was asked for: the reconciler
			// would restart the daemon for ever, so the config refuses it.
			kept := tc.give.MaxLen == 0 || tc.give.MaxLen == tc.got.MaxLen
			if got := listSync(t, k)[0].Satisfies(tc.give); got != kept {
				t.Errorf("Satisfies = %v, want %v", got, kept)
			}
			if err := k.StopSyncDaemon(tc.give.State); err != nil {
				t.Errorf("StopSyncDaemon: %v", err)
			}
		})
	}
}

func testSyncErrors(t *testing.T, newNS NewSyncDaemonsFunc) {
	k, link := newNS(t)
	for _, tc := range []struct {
		name string
		d    ipvs.SyncDaemon
		want syscall.Errno
	}{
		{"missing interface", ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "nosuch0"}, syscall.ENODEV},
		{"empty interface", ipvs.SyncDaemon{State: ipvs.SyncBackup}, syscall.ENODEV},
		{"interface name too long", ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "abcdefghijklmnop"}, syscall.EINVAL},
		{"unicast group", ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: link, Group: netip.MustParseAddr("192.0.2.1")}, syscall.EINVAL},
		{"unicast IPv6 group", ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: link, Group: netip.MustParseAddr("2001:db8::1")}, syscall.EINVAL},
		{"no such role", ipvs.SyncDaemon{State: 3, Interface: link}, syscall.EINVAL},
		{"no such role, missing interface", ipvs.SyncDaemon{State: 3, Interface: "nosuch0"}, syscall.ENODEV},
	} {
		wantErrno(t, "starting with "+tc.name, k.StartSyncDaemon(tc.d), tc.want)
	}
	wantErrno(t, "stopping role 0", k.StopSyncDaemon(0), syscall.EINVAL)
	wantErrno(t, "stopping role 3", k.StopSyncDaemon(3), syscall.EINVAL)
	wantSync(t, k)
}

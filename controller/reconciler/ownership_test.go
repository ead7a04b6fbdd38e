package reconciler_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// addForeign creates a virtual server as another tool would.
func addForeign(t *testing.T, e *env, k ipvs.Key, dests ...ipvs.Destination) {
	t.Helper()
	addServices(t, e.kernel, ipvs.ServiceConfig{Service: ipvs.Service{Key: k, Scheduler: "sh"}, Destinations: dests})
}

func TestForeignServicesUntouched(t *testing.T) {
	e := newEnv(t)
	addForeign(t, e, desiredtest.TCP("203.0.113.5:80"), desiredtest.Dest("10.1.0.1:80", 3)) // another VIP
	addForeign(t, e, desiredtest.TCP("192.0.2.1:8080"), desiredtest.Dest("10.1.0.2:80", 3)) // our VIP, a port we do not manage
	addForeign(t, e, web, desiredtest.Dest("10.1.0.3:80", 3))                               // a key we want
	e.addrs.AddOther(addr("203.0.113.5"))
	e.addrs.AddDummy(addr("198.51.100.7")) // on our link, but not bound by us
	foreign := `
		TCP  192.0.2.1:80 sh
		  -> 10.1.0.3:80                  Masq    3      0          0
		TCP  192.0.2.1:8080 sh
		  -> 10.1.0.2:80                  Masq    3      0          0
	`
	ours := webUDP
	rest := `
		TCP  203.0.113.5:80 sh
		  -> 10.1.0.1:80                  Masq    3      0          0
		TCP  [2001:db8::1]:443 wlc
		  -> [2001:db8::10]:8443          Masq    1      0          0
		dummy 192.0.2.1
		dummy 198.51.100.7
		dummy 2001:db8::1
		other 203.0.113.5
	`
	for i := range 3 {
		res, err := e.r.Sync(t.Context(), webDesired())
		if err != nil {
			t.Fatalf("sync %d: err = %v; a conflict is no sync error", i, err)
		}
		if len(res.Conflicts) != 1 || res.Conflicts[0] != web || res.NeedsRetry {
			t.Errorf("sync %d: conflicts %v, needs retry %t", i, res.Conflicts, res.NeedsRetry)
		}
		e.wantState(foreign + ours + rest)
		e.advance(time.Minute) // every other sync is a full resync
	}

	// Desired state empty: ours go, foreign stay, the foreign address on
	// our link stays.
	e.advance(time.Minute)
	e.sync(desired.State{})
	e.wantState(foreign + `
		TCP  203.0.113.5:80 sh
		  -> 10.1.0.1:80                  Masq    3      0          0
		dummy 198.51.100.7
		other 203.0.113.5
	`)
}

func TestConflictResolvedWhenForeignServiceGoes(t *testing.T) {
	e := newEnv(t)
	addForeign(t, e, web, desiredtest.Dest("10.1.0.3:80", 3))
	if res, err := e.r.Sync(t.Context(), webDesired()); err != nil || !slices.Equal(res.Conflicts, []ipvs.Key{web}) {
		t.Fatalf("err = %v, conflicts %v; want none and %s", err, res.Conflicts, web)
	}
	must(t, e.kernel.DeleteService(web))
	// Not written blind on incremental syncs; taken on the next full one.
	e.advance(time.Minute)
	res := e.sync(webDesired())
	if res.Services.Added != 1 || len(res.Conflicts) != 0 {
		t.Errorf("%s", &res)
	}
	if _, ok := e.r.Owned().Services[web]; !ok {
		t.Error("service not recorded as ours")
	}
}

func TestForeignServiceCreatedBetweenResyncs(t *testing.T) {
	e := newEnv(t)
	e.sync(desired.State{})
	// Appears after our dump: our AddService meets EEXIST.
	addForeign(t, e, web, desiredtest.Dest("10.1.0.3:80", 3))
	res, err := e.r.Sync(t.Context(), webDesired())
	if err != nil || !slices.Equal(res.Conflicts, []ipvs.Key{web}) {
		t.Fatalf("err = %v, conflicts %v; want none and %s", err, res.Conflicts, web)
	}
	if _, ok := e.r.Owned().Services[web]; ok {
		t.Error("a foreign service was recorded as ours")
	}
}

func TestRestartAdoptsWithoutWrites(t *testing.T) {
	e := newEnv(t)
	addForeign(t, e, desiredtest.TCP("203.0.113.5:80"), desiredtest.Dest("10.1.0.1:80", 3))
	e.sync(webDesired())
	want := e.state()

	e.restart()
	res, writes, dumps := e.syncCounting(webDesired())
	if writes != 0 || dumps != 1 || !res.Full || res.Writes() != 0 || e.addrs.Writes() != 2 {
		t.Errorf("adoption: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	if got := e.state(); got != want {
		t.Errorf("after restart:\n%s\nwant:\n%s", got, want)
	}
	// The adopted services are ours: removing them from the desired
	// state deletes them (and nothing foreign).
	e.sync(desired.State{})
	e.wantState(`
		TCP  203.0.113.5:80 sh
		  -> 10.1.0.1:80                  Masq    3      0          0
	`)
}

func TestRestartWithoutRecordTreatsEverythingAsForeign(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, os.Remove(e.cfg.RecordPath))
	e.restart()
	_, err := e.r.Sync(t.Context(), desired.State{})
	if err != nil {
		t.Fatal(err)
	}
	if e.table() == "" {
		t.Error("services deleted without an ownership record")
	}
}

func TestRestartRestoresWeightsLeftByCrashMidDrain(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, e.kernel.SetConns(web, drop, 4, 0))
	d := webDesired()
	d.Services[0].Destinations = d.Services[0].Destinations[1:] // drop 10.0.0.2, which has connections
	d.Services[0].Destinations[0].Weight = 3                    // and reweight 10.0.0.1
	e.sync(d)
	// Crash mid-drain: 10.0.0.2 sits at weight 0. The new process wants
	// it back, and 10.0.0.1 at its old weight: two updates in place.
	e.restart()
	res, writes, _ := e.syncCounting(webDesired())
	if writes != 2 || res.Destinations.Updated != 2 {
		t.Errorf("%d writes: %s", writes, &res)
	}
	e.wantState(edit(webState, "10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    1      4          0\n"))
}

func TestRecordFileRoundTrip(t *testing.T) {
	e := newEnv(t)
	fwm := desired.VirtualServer{Service: ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv6, FWMark: 9}, Scheduler: "rr", Timeout: 300, Netmask: 64}, Owner: "ns/svc:dns"}
	d := webDesired()
	d.Services = append(d.Services, fwm)
	e.sync(d)
	b, err := os.ReadFile(e.cfg.RecordPath)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "services": [
    {
      "family": 4,
      "address": "192.0.2.1",
      "protocol": "TCP",
      "port": 80,
      "owner": "test",
      "scheduler": "rr",
      "netmask": 32
    },
    {
      "family": 4,
      "address": "192.0.2.1",
      "protocol": "UDP",
      "port": 53,
      "owner": "test",
      "scheduler": "wrr",
      "netmask": 32
    },
    {
      "family": 6,
      "address": "2001:db8::1",
      "protocol": "TCP",
      "port": 443,
      "owner": "test",
      "scheduler": "wlc",
      "netmask": 128
    },
    {
      "family": 6,
      "fwmark": 9,
      "owner": "ns/svc:dns",
      "scheduler": "rr",
      "flags": [
        "persistent"
      ],
      "timeout": 300,
      "netmask": 64
    }
  ],
  "addresses": [
    "192.0.2.1",
    "2001:db8::1"
  ]
}
`
	if string(b) != want {
		t.Errorf("record file:\n%s\nwant:\n%s", b, want)
	}
	loaded, err := runstate.LoadRecord(e.cfg.RecordPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.r.Owned(); !recordsEqual(loaded, got) {
		t.Errorf("LoadRecord = %+v, want %+v", loaded, got)
	}
}

func TestCorruptRecordRefusesToStart(t *testing.T) {
	e := newEnv(t)
	must(t, os.MkdirAll(dirOf(e.cfg.RecordPath), 0o755))
	must(t, os.WriteFile(e.cfg.RecordPath, []byte("{not json"), 0o644))
	if _, err := reconciler.New(e.cfg, reconciler.Deps{Kernel: e.kernel}); err == nil {
		t.Error("New accepted a corrupt ownership record")
	}
}

func TestUnwritableRecordCreatesNothing(t *testing.T) {
	e := newEnv(t)
	e.cfg.RecordPath = "/proc/ipvsd-cannot-write/state.json"
	e.restart()
	res, err := e.r.Sync(t.Context(), webDesired())
	if err == nil || !res.NeedsRetry {
		t.Fatalf("err = %v, needs retry %t", err, res.NeedsRetry)
	}
	if e.state() != "" {
		t.Errorf("created without recording ownership:\n%s", e.state())
	}
}

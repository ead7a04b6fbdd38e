package reconciler_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// writeRecordFile puts a record on disk as someone other than ipvsd
// would, in a directory ipvsd accepts.
func writeRecordFile(t *testing.T, e *env, text string) {
	t.Helper()
	must(t, os.MkdirAll(dirOf(e.cfg.RecordPath), 0o700))
	must(t, os.WriteFile(e.cfg.RecordPath, []byte(text), 0o600))
}

// TestForgedRecordDeletesNothing: a record entry naming a foreign virtual
// server, in the first spelling (no parameters) or with parameters the
// kernel's service does not have, is no sign that the service is ours:
// nothing is deleted, and the entries are dropped from the record.
// Today's reconciler deleted both services.
func TestForgedRecordDeletesNothing(t *testing.T) {
	e := newEnv(t)
	addForeign(t, e, desiredtest.TCP("203.0.113.5:80"), desiredtest.Dest("10.1.0.1:80", 3))
	addForeign(t, e, desiredtest.TCP("192.0.2.1:8080"), desiredtest.Dest("10.1.0.2:80", 3))
	foreign := e.state()
	writeRecordFile(t, e, `{"version": 1, "services": [
		{"family": 4, "address": "203.0.113.5", "protocol": "TCP", "port": 80, "owner": "forged"},
		{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": 8080, "owner": "forged", "scheduler": "rr", "netmask": 32}
	], "addresses": []}`)
	e.restart()
	for i := range 2 {
		res := e.sync(desired.State{})
		if res.Services.Deleted != 0 || res.Destinations.Deleted != 0 || res.Writes() != 0 {
			t.Errorf("sync %d wrote: %s", i, &res)
		}
		if got := e.state(); got != foreign {
			t.Errorf("sync %d: state\n%s\nwant\n%s", i, got, foreign)
		}
		e.advance(time.Minute)
	}
	if owned := e.r.Owned(); len(owned.Services) != 0 {
		t.Errorf("still recorded: %v", owned.Services)
	}
	b, err := os.ReadFile(e.cfg.RecordPath)
	must(t, err)
	if strings.Contains(string(b), "forged") {
		t.Errorf("record file still names them:\n%s", b)
	}
	// Foreign now: wanting one of them is a conflict, not a takeover.
	d := desired.State{Services: []desired.VirtualServer{desiredtest.VServer(desiredtest.TCP("192.0.2.1:8080"), "rr")}}
	if res, err := e.r.Sync(t.Context(), d); err != nil || len(res.Conflicts) != 1 {
		t.Errorf("err = %v, conflicts %v; want none and one", err, res.Conflicts)
	}
	if got := e.state(); got != foreign {
		t.Errorf("after wanting a foreign one: state\n%s\nwant\n%s", got, foreign)
	}
}

// TestHandChangedServiceLeftAlone: a service of ours whose scheduler was
// changed by hand (ipvsadm -E) and that leaves the desired state is not
// deleted, by a restarted ipvsd, a full resync or an incremental sync
// (which reads that service first), and is no longer recorded; the one
// left as ipvsd wrote it is deleted. Today's reconciler deleted both.
func TestHandChangedServiceLeftAlone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(e *env)
		full   bool
	}{
		{"restart", func(e *env) { e.restart() }, true},
		{"full resync", func(e *env) { e.advance(time.Minute) }, true},
		{"incremental", func(*env) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.sync(webDesired())
			must(t, e.kernel.UpdateService(ipvs.Service{Key: web, Scheduler: "lc"}))
			tc.before(e)
			d := webDesired()
			d.Services = d.Services[2:] // web and dns leave
			d.Addresses = d.ServiceAddresses()
			res := e.sync(d)
			if res.Full != tc.full || res.Services.Deleted != 1 {
				t.Errorf("%s", &res)
			}
			e.wantState(strings.Replace(webTCP, " rr", " lc", 1) + webV6 + webLinks)
			if _, ok := e.r.Owned().Services[web]; ok {
				t.Error("the changed service is still recorded")
			}
			// The next full resync leaves it too.
			e.advance(time.Minute)
			if res := e.sync(d); res.Writes() != 0 {
				t.Errorf("next resync: %s", &res)
			}
		})
	}
}

// TestFirstRecordSpellingAdopted: a record written before ipvsd recorded
// parameters still makes a restarted ipvsd adopt the desired services it
// names, without writes; the record then gains their parameters, so a
// service that leaves the desired state afterwards is deleted.
func TestFirstRecordSpellingAdopted(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	writeRecordFile(t, e, `{"version": 1, "services": [
		{"family": 4, "address": "192.0.2.1", "protocol": "UDP", "port": 53, "owner": "test"},
		{"family": 4, "address": "192.0.2.1", "protocol": "TCP", "port": 80, "owner": "test"},
		{"family": 6, "address": "2001:db8::1", "protocol": "TCP", "port": 443, "owner": "test"}
	], "addresses": ["192.0.2.1", "2001:db8::1"]}`)
	e.restart()
	if res, writes, _ := e.syncCounting(webDesired()); writes != 0 || res.Writes() != 0 {
		t.Errorf("adoption wrote %d: %s", writes, &res)
	}
	if owned := e.r.Owned(); len(owned.Config) != 3 || owned.Config[web].Scheduler != "rr" {
		t.Errorf("parameters not recorded: %v", owned.Config)
	}
	e.restart()
	e.sync(withoutWeb())
	e.wantState(webUDP + webV6 + webLinks)
}

func withoutWeb() desired.State {
	d := webDesired()
	d.Services = d.Services[1:]
	return d
}

// TestUnspecifiedAddressNotCreated: a desired virtual server on 0.0.0.0
// is not created, since the record could not name it (a restarted ipvsd
// would refuse such a record); the others are, and the error names it.
func TestUnspecifiedAddressNotCreated(t *testing.T) {
	e := newEnv(t)
	d := webDesired()
	d.Services = append(d.Services, desiredtest.VServer(desiredtest.TCP("0.0.0.0:80"), "rr"))
	_, err := e.r.Sync(t.Context(), d)
	want := "virtual server TCP 0.0.0.0:80 (test): not created, the ownership record cannot name it: unspecified address 0.0.0.0"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	e.wantState(webState)
	e.restart() // the record still loads
}

// TestServiceGoneBeforeDeleteDropped: a service deleted by hand, then
// taken out of the desired state, is found gone by the read before the
// delete: nothing is written, and it leaves the record.
func TestServiceGoneBeforeDeleteDropped(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	must(t, e.kernel.DeleteService(web))
	res, writes, reads := e.syncCounting(withoutWeb())
	if writes != 0 || reads != 1 || res.Full || res.Services.Deleted != 0 {
		t.Errorf("%d writes, %d reads: %s", writes, reads, &res)
	}
	if _, ok := e.r.Owned().Services[web]; ok {
		t.Error("still recorded")
	}
	e.wantState(webUDP + webV6 + webLinks)
}

// TestClaimedRecordAlwaysLoads: the record saved before a create, which a
// crash could leave behind, loads again even when the desired service has
// parameters the record cannot hold (a scheduler name no kernel has): the
// entry is then saved without them.
func TestClaimedRecordAlwaysLoads(t *testing.T) {
	e := newEnv(t)
	d := webDesired()
	d.Services[0].Scheduler = "Round-Robin"
	var loadErrs []error
	e.kernel.SetHook(func(op ipvstest.Op, k ipvs.Key, _ ipvs.DestKey) error {
		if op == ipvstest.OpAddService {
			_, err := runstate.LoadRecord(e.cfg.RecordPath)
			loadErrs = append(loadErrs, err)
		}
		return nil
	})
	_, err := e.r.Sync(t.Context(), d)
	if err == nil || !strings.Contains(err.Error(), "adding virtual server TCP 192.0.2.1:80") {
		t.Errorf("err = %v, want the kernel's refusal of the scheduler", err)
	}
	if len(loadErrs) != 3 || errors.Join(loadErrs...) != nil {
		t.Errorf("record during the creates: %v", loadErrs)
	}
	e.kernel.SetHook(nil)
	e.restart()
}

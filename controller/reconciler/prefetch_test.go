package reconciler_test

import (
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestFullResyncUsesTheDumpTakenAhead: a full resync uses the dump taken
// ahead of it, which finds the drift from before it began, and reads again
// the virtual servers written since (whose dump is older than the write),
// so that neither is taken for drift.
func TestFullResyncUsesTheDumpTakenAhead(t *testing.T) {
	e := newEnv(t)
	e.dumper = e.kernel // the fake serialises its calls
	e.restart()
	e.sync(webDesired())
	e.driftWeb() // before the dump: to be repaired

	ready := make(chan struct{})
	if e.r.PrefetchDump(func() { close(ready) }) {
		t.Fatal("PrefetchDump reported a dump done before one was taken")
	}
	<-ready
	if !e.r.PrefetchDump(func() { t.Error("a second dump was started") }) {
		t.Fatal("PrefetchDump: the dump taken is not reported done")
	}

	// After the dump, a partial sync changes web6's real servers and
	// removes nothing; the dump now holds web6 as it was.
	changed := desiredtest.VServer(web6, "wlc", desiredtest.Dest("[2001:db8::10]:8443", 1), desiredtest.Dest("[2001:db8::11]:8443", 1))
	e.apply(desired.Update{Set: []desired.VirtualServer{changed}})

	e.r.RequestFullResync()
	e.kernel.ResetCalls()
	res := e.apply(desired.Update{})
	if !res.Full || e.kernel.Calls(ipvstest.OpDump) != 0 {
		t.Errorf("full %t with %d dumps of its own: want a full resync on the dump taken ahead", res.Full, e.kernel.Calls(ipvstest.OpDump))
	}
	// dns re-created and its real server added, web's weight put back;
	// nothing written for web6.
	if got, want := e.kernel.Writes(), 3; got != want {
		t.Errorf("%d writes, want %d (the drift from before the dump, nothing for web6): %s", got, want, &res)
	}
	e.wantState(webTCP + webUDP + webV6 + "  -> [2001:db8::11]:8443          Masq    1      0          0\n" + webLinks)
}

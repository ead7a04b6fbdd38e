package reconciler_test

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

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

// TestFullResyncUsesTheListingTakenAhead: the addresses are listed with
// the dump taken ahead, so the full resync does not list them again
// (at 10,000 Services that listing was most of its first slice), unless
// a VIP was bound or unbound since or the listing ahead failed. Drift
// from before the listing is repaired either way.
func TestFullResyncUsesTheListingTakenAhead(t *testing.T) {
	extra := desiredtest.VServer(desiredtest.TCP("192.0.2.9:80"), "rr", desiredtest.Dest("10.0.0.9:80", 1))
	withExtra := func() desired.State {
		d := webDesired()
		d.Services = append(d.Services, extra)
		d.Addresses = d.ServiceAddresses()
		return d
	}
	for _, tc := range []struct {
		name string
		// meanwhile runs between the dump ahead and the full resync.
		meanwhile func(e *env)
		failList  bool // the listing ahead fails
		lists     int  // by the full resync
		links     string
	}{
		{name: "listed ahead", meanwhile: func(*env) {}, lists: 0, links: webLinks},
		{name: "a VIP bound since", meanwhile: func(e *env) { e.sync(withExtra()) }, lists: 1,
			links: "dummy 192.0.2.1\ndummy 192.0.2.9\ndummy 2001:db8::1\n"},
		{name: "the listing ahead failed", meanwhile: func(*env) {}, failList: true, lists: 1, links: webLinks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.dumper = e.kernel
			e.restart()
			e.sync(webDesired())
			e.addrs.RemoveDummy(addr("2001:db8::1")) // drift before the listing
			if tc.failList {
				e.addrs.Fail = func(op string, _ netip.Addr) error {
					if op == "list" {
						return unix.EINTR
					}
					return nil
				}
			}
			ready := make(chan struct{})
			e.r.PrefetchDump(func() { close(ready) })
			<-ready
			e.addrs.Fail = nil
			if tc.meanwhile(e); t.Failed() {
				return
			}
			e.r.RequestFullResync()
			before := e.addrs.Lists()
			res := e.apply(desired.Update{})
			if !res.Full {
				t.Fatalf("not a full resync: %s", &res)
			}
			if got := e.addrs.Lists() - before; got != tc.lists {
				t.Errorf("the full resync listed the addresses %d times, want %d", got, tc.lists)
			}
			if got := e.addrs.Render(); got != tc.links {
				t.Errorf("links after the full resync:\n%s\nwant:\n%s", got, tc.links)
			}
		})
	}
}

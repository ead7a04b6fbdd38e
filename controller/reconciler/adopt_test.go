package reconciler_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// kubeProxyWeb puts web as kube-proxy left it: another scheduler, one
// real server ipvsd wants (10.0.0.2:80) and one it does not, holding
// connections, its VIP on kube-proxy's own link.
func kubeProxyWeb(t *testing.T, e *env) {
	t.Helper()
	if err := e.kernel.AddService(ipvs.Service{Key: web, Scheduler: "wlc"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []ipvs.Destination{desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.9:80", 1)} {
		d.Forwarding = ipvs.Masquerade
		if err := e.kernel.AddDestination(web, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.kernel.SetConns(web, desiredtest.Dest("10.0.0.9:80", 0).DestKey, 3, 0); err != nil {
		t.Fatal(err)
	}
	e.addrs.AddOther(web.Address)
}

// TestAdopt: a desired virtual server another program made is adopted in
// place when it is adoptable and left alone (a conflict) when not; the
// adopted one is never deleted and added again, its VIP is bound to our
// link beside the other one, and a restarted ipvsd finds it its own.
func TestAdopt(t *testing.T) {
	cases := []struct {
		name  string
		adopt reconciler.Adoptable
		want  string
		// conflict: web is left as it was.
		conflict bool
	}{
		{name: "not adoptable", conflict: true, want: `
			TCP  192.0.2.1:80 wlc
			  -> 10.0.0.2:80                  Masq    1      0          0
			  -> 10.0.0.9:80                  Masq    1      3          0
			` + webUDP + webV6 + `
			dummy 2001:db8::1
			other 192.0.2.1
		`},
		{
			name:  "adoptable",
			adopt: reconciler.Adoptable{Services: map[ipvs.Key]bool{web: true}, Addresses: map[netip.Addr]bool{web.Address: true}},
			// The scheduler is changed in place, the wanted real servers
			// set, the unwanted one drained (it holds connections).
			want: `
				TCP  192.0.2.1:80 rr
				  -> 10.0.0.1:80                  Masq    2      0          0
				  -> 10.0.0.2:80                  Masq    1      0          0
				  -> 10.0.0.9:80                  Masq    0      3          0
				` + webUDP + webV6 + `
				dummy 192.0.2.1
				dummy 2001:db8::1
				other 192.0.2.1
			`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			kubeProxyWeb(t, e)
			e.r.Adopt(c.adopt)
			e.kernel.ResetCalls()
			res, err := e.r.Sync(t.Context(), webDesired())
			if err != nil {
				t.Fatal(err)
			}
			e.wantState(c.want)
			// dns and web6 are created; web never is, nor deleted.
			if got := e.kernel.Calls(ipvstest.OpAddService); got != 2 {
				t.Errorf("%d services added, want 2 (dns, web6)", got)
			}
			if got := e.kernel.Calls(ipvstest.OpDeleteService); got != 0 {
				t.Errorf("%d services deleted, want none", got)
			}
			_, owned := e.r.Owned().Services[web]
			if owned == c.conflict || (res.Adopted == 1) == c.conflict || (len(res.Conflicts) == 1) != c.conflict {
				t.Errorf("owned %v, result %s, conflicts %v; want conflict %v", owned, &res, res.Conflicts, c.conflict)
			}
			if c.conflict {
				return
			}
			// A restart adopts nothing more and writes nothing: it is ours.
			e.restart()
			_, writes, _ := e.syncCounting(webDesired())
			if writes != 0 {
				t.Errorf("%d writes after a restart, want 0", writes)
			}
		})
	}
}

// TestAdoptThenRelease: once adopted, a service that leaves the desired
// state is deleted like any of ours; Adopt with nothing ends the
// take-over, so a service of the other program's appearing later is a
// conflict again.
func TestAdoptThenRelease(t *testing.T) {
	e := newEnv(t)
	kubeProxyWeb(t, e)
	extra := desiredtest.TCP("192.0.2.1:8080")
	e.r.Adopt(reconciler.Adoptable{Services: map[ipvs.Key]bool{web: true, extra: true}})
	e.sync(webDesired())
	e.r.Adopt(reconciler.Adoptable{})
	if err := e.kernel.AddService(ipvs.Service{Key: extra, Scheduler: "sh"}); err != nil {
		t.Fatal(err)
	}
	d := webDesired()
	d.Services = append(d.Services, desiredtest.VServer(extra, "rr", desiredtest.Dest("10.0.0.1:8080", 1)))
	res := e.sync(d)
	if len(res.Conflicts) != 1 || res.Conflicts[0] != extra {
		t.Errorf("conflicts %v, want %s (made by someone else, no longer adoptable)", res.Conflicts, extra)
	}
	d.Services = d.Services[1:]
	e.r.RequestFullResync()
	e.sync(d)
	if _, ok := e.r.Owned().Services[web]; ok {
		t.Error("web, adopted and no longer desired, is still recorded")
	}
	if got := e.table(); strings.Contains(got, "192.0.2.1:80 ") {
		t.Errorf("web, adopted and no longer desired, is still in the kernel:\n%s", got)
	}
}

// TestAdoptRecordFails: when the record cannot be saved, nothing is
// adopted or written (the service stays as the other program left it,
// serving) and the sync says why; once it can be, the next sync adopts.
func TestAdoptRecordFails(t *testing.T) {
	e := newEnv(t)
	kubeProxyWeb(t, e)
	dir := filepath.Dir(e.cfg.RecordPath)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // a file where the directory goes
		t.Fatal(err)
	}
	e.r.Adopt(reconciler.Adoptable{Services: map[ipvs.Key]bool{web: true}})
	d := desired.State{Services: webDesired().Services[:1]}
	before := e.table()
	e.kernel.ResetCalls()
	_, err := e.r.Sync(t.Context(), d)
	if err == nil || !strings.Contains(err.Error(), "recording the adopted virtual servers") {
		t.Fatalf("got %v; want the record's failure", err)
	}
	if got := e.table(); got != before || e.kernel.Writes() != 0 {
		t.Errorf("%d writes; table\n%s\nwant it untouched\n%s", e.kernel.Writes(), got, before)
	}
	if _, owned := e.r.Owned().Services[web]; owned {
		t.Error("web is recorded as ours though the record was not saved")
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	res := e.sync(d)
	if _, owned := e.r.Owned().Services[web]; !owned || res.Adopted != 1 {
		t.Errorf("after the record could be saved: owned %v, %s", owned, &res)
	}
}

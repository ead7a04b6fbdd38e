package reconciler_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	rt "github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// retryInterval is the reconciler's default first wait before retrying a
// failed object.
const retryInterval = time.Second

// newFaultEnv is newEnv with the netlink fault injector between the
// reconciler and the fake kernel.
func newFaultEnv(t *testing.T) (*env, *rt.Faults) {
	t.Helper()
	e := newEnv(t)
	f := rt.NewFaults(e.kernel)
	r, err := reconciler.New(e.cfg, reconciler.Deps{
		Kernel: f, Addresses: e.addrs, Conntrack: e.ct,
		Now: func() time.Time { return e.now }, Log: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.r = r
	return e, f
}

var web9 = desiredtest.Dest("10.0.0.9:80", 1)

// withWeb9 adds a third real server to web.
func withWeb9() desired.State {
	d := webDesired()
	d.Services[0].Destinations = append(d.Services[0].Destinations, web9)
	return d
}

// withWebWeight changes the weight of web's 10.0.0.1:80 to 5.
func withWebWeight() desired.State {
	d := webDesired()
	d.Services[0].Destinations[1].Weight = 5
	return d
}

// withoutDNS drops the UDP virtual server.
func withoutDNS() desired.State {
	d := webDesired()
	d.Services = slices.Delete(d.Services, 1, 2)
	return d
}

// withDNSMoved replaces dns's real server: UDP real servers are deleted
// at once, not drained.
func withDNSMoved() desired.State {
	d := webDesired()
	d.Services[1].Destinations = []ipvs.Destination{desiredtest.Dest("10.0.0.4:53", 1)}
	return d
}

func empty() desired.State { return desired.State{} }

// faultCase is one netlink fault on the way from one desired state to the
// next.
type faultCase struct {
	name          string
	before, after func() desired.State
	fault         rt.Fault
	// errno is what the first sync must report for the faulted object;
	// nil when the fault is no error at all (a delete of what is gone).
	errno error
	// state is the host once the retries are done.
	state string
}

func faultCases() []faultCase {
	var (
		addWeb   = rt.Fault{Op: ipvstest.OpAddService, Service: web}
		addWeb9  = rt.Fault{Op: ipvstest.OpAddDestination, Service: web, Dest: web9.DestKey}
		updWeb1  = rt.Fault{Op: ipvstest.OpUpdateDestination, Service: web, Dest: desiredtest.Dest("10.0.0.1:80", 0).DestKey}
		delDNS   = rt.Fault{Op: ipvstest.OpDeleteService, Service: dns}
		delDNSRS = rt.Fault{Op: ipvstest.OpDeleteDestination, Service: dns, Dest: desiredtest.Dest("10.0.0.3:53", 0).DestKey}
	)
	with := func(f rt.Fault, eff rt.Effect, err error) rt.Fault { f.Effect, f.Err, f.Times = eff, err, 1; return f }
	web9State := edit(webState, "10.0.0.2:80", "  -> 10.0.0.2:80                  Masq    1      0          0\n  -> 10.0.0.9:80                  Masq    1      0          0\n")
	weightState := edit(webState, "10.0.0.1:80", "  -> 10.0.0.1:80                  Masq    5      0          0\n")
	noDNSState := edit(webState, "UDP  192.0.2.1:53", "", "10.0.0.3:53", "")
	movedState := edit(webState, "10.0.0.3:53", "  -> 10.0.0.4:53                  Masq    1      0          0\n")
	var cases []faultCase
	for _, c := range []struct {
		name          string
		before, after func() desired.State
		fault         rt.Fault
		state         string
	}{
		{"add virtual server", empty, webDesired, addWeb, webState},
		{"add real server", webDesired, withWeb9, addWeb9, web9State},
		{"update real server", webDesired, withWebWeight, updWeb1, weightState},
		{"delete virtual server", webDesired, withoutDNS, delDNS, noDNSState},
		{"delete real server", webDesired, withDNSMoved, delDNSRS, movedState},
	} {
		for _, f := range []struct {
			eff rt.Effect
			err error
		}{{rt.Refused, unix.EBUSY}, {rt.Refused, unix.ENOMEM}, {rt.Applied, nil}, {rt.Dropped, nil}} {
			errno := f.err
			if errno == nil {
				errno = unix.EAGAIN
			}
			cases = append(cases, faultCase{c.name + ", " + f.eff.String() + " " + errName(errno), c.before, c.after, with(c.fault, f.eff, f.err), errno, c.state})
		}
	}
	// ENOENT on delete: another program removed it just before; for the
	// kernel's answer to a missing real server that is done, not failed.
	cases = append(cases, faultCase{"delete real server, ENOENT: gone already", webDesired, withDNSMoved, with(delDNSRS, rt.Gone, nil), nil, movedState})
	return cases
}

func errName(err error) string {
	if e, ok := err.(unix.Errno); ok {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// TestNetlinkFaults injects each fault into one write on the way from one
// desired state to the next: the sync reports the object and the errno,
// every other object is programmed in that same sync, the object is
// retried after one retry interval, and the host ends exactly as desired,
// with the ownership record naming exactly what exists. A reply lost
// after the kernel carried the request out must not turn ipvsd's own
// virtual server into a foreign one.
func TestNetlinkFaults(t *testing.T) {
	for _, c := range faultCases() {
		t.Run(c.name, func(t *testing.T) {
			e, f := newFaultEnv(t)
			e.sync(c.before())
			want := renderAfter(t, c.after)
			f.Inject(c.fault)
			res, err := e.r.Sync(t.Context(), c.after())
			if c.errno == nil {
				if err != nil {
					t.Fatalf("sync: %v", err)
				}
			} else {
				checkOpError(t, err, c.fault, c.errno)
				if !res.NeedsRetry {
					t.Errorf("a failed write does not ask for a retry: %s", &res)
				}
				// Everything but the faulted virtual server is as desired.
				if got, want := blocksBut(e.table(), c.fault.Service), blocksBut(want, c.fault.Service); !maps.Equal(got, want) {
					t.Errorf("other virtual servers after the faulted sync:\n%v\nwant:\n%v", got, want)
				}
			}
			retries := 0
			for err != nil {
				if retries++; retries > 3 {
					t.Fatalf("still failing after %d retries: %v", retries-1, err)
				}
				e.advance(retryInterval)
				res, err = e.r.Sync(t.Context(), c.after())
			}
			if len(res.Conflicts) > 0 {
				t.Errorf("after the retry, our own virtual servers count as foreign: %v", res.Conflicts)
			}
			e.wantState(c.state)
			checkRecord(t, e)
			if res, writes, _ := e.syncCounting(c.after()); writes != 0 {
				t.Errorf("not settled: a further sync wrote %d times, %s", writes, &res)
			}
		})
	}
}

// renderAfter is the IPVS table d leaves on a fresh fake host.
func renderAfter(t *testing.T, d func() desired.State) string {
	t.Helper()
	e := newEnv(t)
	e.sync(d())
	return e.table()
}

// checkOpError requires err to hold an OpError for the faulted object
// with errno.
func checkOpError(t *testing.T, err error, f rt.Fault, errno error) {
	t.Helper()
	var oe *reconciler.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v names no object", err)
	}
	if oe.Service != f.Service || oe.Dest != f.Dest || !errors.Is(oe, errno) {
		t.Errorf("error for %s %s with %v; want %s %s with %v", oe.Service, oe.Dest, oe.Err, f.Service, f.Dest, errno)
	}
}

// blocksBut splits a rendered table into its virtual servers' blocks,
// keyed by their first line, leaving out the one of k.
func blocksBut(table string, k ipvs.Key) map[string]string {
	out := map[string]string{}
	var head string
	for _, l := range strings.SplitAfter(table, "\n") {
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, " ") {
			head = l
		}
		out[head] += l
	}
	for h := range out {
		if f := strings.Fields(h); len(f) > 1 && f[0]+" "+f[1] == k.String() {
			delete(out, h)
		}
	}
	return out
}

// checkRecord requires the ownership record to name exactly the virtual
// servers in the kernel (the fault tests add no foreign ones).
func checkRecord(t *testing.T, e *env) {
	t.Helper()
	dump, err := e.kernel.Dump()
	if err != nil {
		t.Fatal(err)
	}
	var inKernel []ipvs.Key
	for _, s := range dump {
		inKernel = append(inKernel, s.Key)
	}
	recorded := slices.SortedFunc(maps.Keys(e.r.Owned().Services), ipvs.Key.Compare)
	if !slices.Equal(recorded, inKernel) {
		t.Errorf("ownership record %v, kernel %v", recorded, inKernel)
	}
}

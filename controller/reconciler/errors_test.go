package reconciler_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

func TestOneFailingServiceDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t)
	e.kernel.SetHook(failing(ipvstest.OpAddDestination, dns, unix.ENOMEM))
	res, err := e.r.Sync(t.Context(), webDesired())
	if !errors.Is(err, unix.ENOMEM) || !res.NeedsRetry || len(res.Errors) != 1 {
		t.Fatalf("err = %v, result %s", err, &res)
	}
	if want := "adding real server 10.0.0.3:53 to UDP 192.0.2.1:53: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the object (%q)", err, want)
	}
	e.wantState(edit(webState, "10.0.0.3:53", ""))
	// Still failing: retried once its retry is due, and still only that:
	// the one write tried is the failing add (the fake counts failed calls
	// too).
	e.advance(retryInterval)
	e.kernel.ResetCalls()
	res, _ = e.r.Sync(t.Context(), webDesired())
	writes, adds, dumps := e.kernel.Writes(), e.kernel.Calls(ipvstest.OpAddDestination), reads(e.kernel)
	if writes != 1 || adds != 1 || dumps != 0 || res.Writes() != 0 || len(res.Errors) != 1 {
		t.Errorf("retry while failing: %d writes (%d adds of real servers), %d dumps, %s", writes, adds, dumps, &res)
	}
	// Recovered: the retry, due after twice the interval now, does exactly
	// the missing write.
	e.kernel.SetHook(nil)
	e.advance(2 * retryInterval)
	res, writes, dumps = e.syncCounting(webDesired())
	if writes != 1 || dumps != 0 || res.NeedsRetry || res.Destinations.Added != 1 {
		t.Errorf("retry: %d writes, %d dumps, %s", writes, dumps, &res)
	}
	if res, writes, _ := e.syncCounting(webDesired()); writes != 0 {
		t.Errorf("after recovery: %d writes, %s", writes, &res)
	}
}

func TestErrorsAreJoined(t *testing.T) {
	e := newEnv(t)
	e.kernel.SetHook(func(op ipvstest.Op, k ipvs.Key, _ ipvs.DestKey) error {
		if op == ipvstest.OpAddService && k.Family == ipvs.IPv6 {
			return unix.EINVAL
		}
		if op == ipvstest.OpAddDestination && k.Protocol == ipvs.UDP {
			return unix.ENOMEM
		}
		return nil
	})
	e.addrs.Fail = func(op string, a netip.Addr) error {
		if a.Is6() {
			return unix.EPERM
		}
		return nil
	}
	res, err := e.r.Sync(t.Context(), webDesired())
	for _, want := range []error{unix.EINVAL, unix.ENOMEM, unix.EPERM} {
		if !errors.Is(err, want) {
			t.Errorf("joined error %v does not wrap %v", err, want)
		}
	}
	if len(res.Errors) != 3 || res.Services.Added != 2 {
		t.Errorf("%s", &res)
	}
	// A service that could not be created is not claimed.
	if _, ok := e.r.Owned().Services[web6]; ok {
		t.Error("failed service recorded as ours")
	}
	if e.r.Owned().Addresses[addr("2001:db8::1")] {
		t.Error("failed address recorded as ours")
	}
	e.kernel.SetHook(nil)
	e.addrs.Fail = nil
	e.advance(retryInterval)
	res = e.sync(webDesired())
	if res.Services.Added != 1 || res.Destinations.Added != 2 || res.Addresses.Added != 1 {
		t.Errorf("retry: %s", &res)
	}
}

func TestFailedAddHoldsBackRemovals(t *testing.T) {
	e := newEnv(t)
	e.sync(webDesired())
	e.kernel.SetHook(failing(ipvstest.OpAddDestination, anyService, unix.ENOMEM))
	// Replace both TCP real servers: the new ones fail, so the old ones
	// must keep serving.
	d := webDesired()
	d.Services[0].Destinations = []ipvs.Destination{desiredtest.Dest("10.0.0.8:80", 1), desiredtest.Dest("10.0.0.9:80", 1)}
	if _, err := e.r.Sync(t.Context(), d); err == nil {
		t.Fatal("no error")
	}
	// The old real servers are neither removed nor drained.
	e.wantState(webState)
	e.kernel.SetHook(nil)
	e.advance(retryInterval)
	res := e.sync(d)
	if res.Destinations.Added != 2 || res.DrainsStarted != 2 {
		t.Errorf("%s", &res)
	}
}

func TestDumpFailure(t *testing.T) {
	e := newEnv(t)
	e.kernel.SetHook(failing(ipvstest.OpDump, anyService, unix.EIO))
	res, err := e.r.Sync(t.Context(), webDesired())
	if !errors.Is(err, unix.EIO) || !res.NeedsRetry {
		t.Fatalf("err = %v, %s", err, &res)
	}
	e.kernel.SetHook(nil) // rendering the state dumps too
	if got := e.state(); got != "" {
		t.Fatalf("changed the host without a dump:\n%s", got)
	}
	if res := e.sync(webDesired()); !res.Full || res.Services.Added != 3 {
		t.Errorf("%s", &res)
	}
}

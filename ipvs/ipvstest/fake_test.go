package ipvstest

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

func TestFakeConformance(t *testing.T) {
	RunConformance(t, func(*testing.T) ipvs.Kernel { return New() })
}

func TestFakeCountsCalls(t *testing.T) {
	f := New()
	must(t, f.AddService(v4Svc))
	must(t, f.AddDestination(v4Key, v4Dest))
	must(t, f.UpdateDestination(v4Key, v4Dest))
	_ = f.DeleteService(missingKey) // fails, still counted
	if _, err := f.Dump(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetDestinations(v4Key); err != nil {
		t.Fatal(err)
	}
	_, _ = f.GetDestinations(missingKey) // fails, still counted
	for op, want := range map[Op]int{OpAddService: 1, OpAddDestination: 1, OpUpdateDestination: 1,
		OpDeleteService: 1, OpDump: 1, OpGetDestinations: 2, OpUpdateService: 0, OpDeleteDestination: 0} {
		if got := f.Calls(op); got != want {
			t.Errorf("Calls(%s) = %d, want %d", op, got, want)
		}
	}
	if got := f.Writes(); got != 4 {
		t.Errorf("Writes() = %d, want 4", got)
	}
	f.ResetCalls()
	if _, err := f.Dump(); err != nil {
		t.Fatal(err)
	}
	if got := f.Writes(); got != 0 {
		t.Errorf("after ResetCalls and a Dump, Writes() = %d, want 0", got)
	}
}

func TestFakeFailNext(t *testing.T) {
	f := New()
	boom := errors.New("boom")
	f.FailNext(OpAddService, v4Key, unix.ENOMEM)
	f.FailNext(OpDump, ipvs.Key{}, boom)
	f.FailNext(OpGetDestinations, v4Key, unix.EIO)

	if err := f.AddService(v6Svc); err != nil {
		t.Fatalf("a failure injected for %s hit %s: %v", v4Key, v6Key, err)
	}
	err := f.AddService(v4Svc)
	if !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("AddService = %v, want ENOMEM", err)
	}
	if want := "adding virtual server TCP 192.0.2.1:80: cannot allocate memory"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err := f.Dump(); !errors.Is(err, boom) {
		t.Fatalf("Dump = %v, want boom", err)
	}
	if _, err := f.GetDestinations(v6Key); err != nil {
		t.Fatalf("a read failure injected for %s hit %s: %v", v4Key, v6Key, err)
	}
	if _, err := f.GetDestinations(v4Key); !errors.Is(err, unix.EIO) {
		t.Fatalf("GetDestinations = %v, want EIO", err)
	}
	// Each injected failure is used once; the failed add changed nothing.
	must(t, f.AddService(v4Svc))
	got, err := f.Dump()
	must(t, err)
	if len(got) != 2 {
		t.Errorf("Dump has %d services, want 2", len(got))
	}
}

func TestFakeHook(t *testing.T) {
	f := New()
	must(t, f.AddService(v4Svc))
	var seen []ipvs.DestKey
	f.SetHook(func(op Op, k ipvs.Key, d ipvs.DestKey) error {
		if op == OpAddDestination {
			seen = append(seen, d)
			if d == otherDest.DestKey {
				return unix.EIO
			}
		}
		return nil
	})
	must(t, f.AddDestination(v4Key, v4Dest))
	if err := f.AddDestination(v4Key, otherDest); !errors.Is(err, unix.EIO) {
		t.Fatalf("AddDestination = %v, want EIO", err)
	}
	if len(seen) != 2 || seen[0] != v4Dest.DestKey {
		t.Errorf("hook saw %v", seen)
	}
	f.SetHook(nil)
	must(t, f.AddDestination(v4Key, otherDest))
}

func TestFakeSetters(t *testing.T) {
	f := New()
	must(t, f.AddService(v4Svc))
	must(t, f.AddDestination(v4Key, v4Dest))
	must(t, f.SetConns(v4Key, v4Dest.DestKey, 3, 7))
	must(t, f.SetPersistConns(v4Key, v4Dest.DestKey, 2))
	must(t, f.SetDestStats(v4Key, v4Dest.DestKey, ipvs.Stats{Conns: 1 << 40}))
	must(t, f.SetServiceStats(v4Key, ipvs.Stats{InBytes: 1 << 50}))
	// Updates keep counters: only traffic changes them.
	must(t, f.UpdateDestination(v4Key, ipvs.Destination{DestKey: v4Dest.DestKey, Weight: 0}))
	must(t, f.UpdateService(ipvs.Service{Key: v4Key, Scheduler: "wrr"}))

	got, err := f.Dump()
	must(t, err)
	d := got[0].Destinations[0]
	if d.ActiveConns != 3 || d.InactiveConns != 7 || d.PersistConns != 2 || d.Stats.Conns != 1<<40 || d.Weight != 0 {
		t.Errorf("real server after setters and update: %+v", d)
	}
	if got[0].Stats.InBytes != 1<<50 || got[0].Scheduler != "wrr" {
		t.Errorf("service after setters and update: %+v", got[0].Service)
	}
	if f.Writes() != 4 {
		t.Errorf("setters were counted as writes: Writes() = %d, want 4", f.Writes())
	}

	if err := f.SetConns(missingKey, v4Dest.DestKey, 1, 1); !errors.Is(err, unix.ESRCH) {
		t.Errorf("SetConns on missing service = %v, want ESRCH", err)
	}
	if err := f.SetConns(v4Key, otherDest.DestKey, 1, 1); !errors.Is(err, unix.ENOENT) {
		t.Errorf("SetConns on missing real server = %v, want ENOENT", err)
	}
}

package ipvstest

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// testBatch checks Apply against the single calls on the same kind of
// kernel: each write of a batch sees what the writes before it left, and
// fails, with the same errno and message, exactly as it would alone,
// without stopping the writes after it.
func testBatch(t *testing.T, newKernel NewKernel) {
	t.Run("Lifecycle", func(t *testing.T) { testBatchLifecycle(t, newKernel) })
	t.Run("FailuresInTheMiddle", func(t *testing.T) { testBatchFailures(t, newKernel) })
	t.Run("Large", func(t *testing.T) { testBatchLarge(t, newKernel) })
}

// batcher returns k's Batcher: both Kernels must have one.
func batcher(t *testing.T, k ipvs.Kernel) ipvs.Batcher {
	t.Helper()
	b, ok := k.(ipvs.Batcher)
	if !ok {
		t.Fatalf("%T does not batch writes", k)
	}
	return b
}

// mustApply applies ws in one batch and fails on any error.
func mustApply(t *testing.T, k ipvs.Kernel, ws []ipvs.Write) {
	t.Helper()
	for i, err := range batcher(t, k).Apply(ws) {
		if err != nil {
			t.Fatalf("write %d (%v): %v", i, ws[i].Op, err)
		}
	}
}

// testBatchLifecycle adds every variety of service with four real servers
// of every forwarding method, updates them and deletes them, one batch
// per step, including writes that depend on earlier ones of the batch.
func testBatchLifecycle(t *testing.T, newKernel NewKernel) {
	k := newKernel(t)
	var add, update, del []ipvs.Write
	var want, updated []ipvs.ServiceConfig
	for _, s := range ServiceVarieties() {
		add = append(add, ipvs.Write{Op: ipvs.WriteAddService, Service: s})
		u := s
		u.Scheduler, u.Flags, u.Timeout, u.Netmask, u.PEName = "wrr", 0, 0, 0, ""
		update = append(update, ipvs.Write{Op: ipvs.WriteUpdateService, Service: u})
		var ds, uds []ipvs.Destination
		for i, fwd := range []ipvs.Forwarding{ipvs.Masquerade, ipvs.DirectRoute, ipvs.Tunnel, ipvs.Local} {
			d := ipvs.Destination{DestKey: destKey(s.Family, i), Weight: i, Forwarding: fwd}
			add = append(add, ipvs.Write{Op: ipvs.WriteAddDest, Service: s, Dest: d})
			ds = append(ds, d)
			if i == 3 {
				// Left as it is by the updates, deleted by the last batch.
				del = append(del, ipvs.Write{Op: ipvs.WriteDeleteDest, Service: u, Dest: d})
				uds = append(uds, d)
				continue
			}
			d.Weight, d.Forwarding, d.UpperThreshold, d.LowerThreshold = 100-i, ipvs.Masquerade, 50, 5
			update = append(update, ipvs.Write{Op: ipvs.WriteUpdateDest, Service: u, Dest: d})
			uds = append(uds, d)
		}
		want = append(want, ipvs.ServiceConfig{Service: s, Destinations: ds})
		updated = append(updated, ipvs.ServiceConfig{Service: u, Destinations: uds})
	}
	mustApply(t, k, add)
	checkTable(t, k, "after the batch of adds", expectTable(want...))
	mustApply(t, k, update)
	checkTable(t, k, "after the batch of updates", expectTable(updated...))
	mustApply(t, k, del)
	for i := range updated {
		// Deleting the real server left the others.
		updated[i].Destinations = updated[i].Destinations[:3]
	}
	checkTable(t, k, "after the batch of real server deletes", expectTable(updated...))

	// Within one batch: delete, add again, delete again, add again.
	s := ServiceVarieties()[0]
	d := ipvs.Destination{DestKey: destKey(s.Family, 9), Weight: 3}
	var churn []ipvs.Write
	for _, op := range []ipvs.WriteOp{ipvs.WriteDeleteService, ipvs.WriteAddService, ipvs.WriteAddDest,
		ipvs.WriteDeleteDest, ipvs.WriteAddDest, ipvs.WriteDeleteService, ipvs.WriteAddService, ipvs.WriteAddDest} {
		churn = append(churn, ipvs.Write{Op: op, Service: s, Dest: d})
	}
	mustApply(t, k, churn)
	updated[0] = ipvs.ServiceConfig{Service: s, Destinations: []ipvs.Destination{d}}
	checkTable(t, k, "after deleting and re-adding within one batch", expectTable(updated...))
}

// batchWithFailures is one batch whose writes fail here and there, each
// with the errno of the single call (the errors table), around writes
// that succeed and depend on earlier ones of the batch.
func batchWithFailures() ([]ipvs.Write, []error) {
	newKey := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.50"), Protocol: ipvs.UDP, Port: 53}
	newSvc := ipvs.Service{Key: newKey, Scheduler: "rr"}
	d1, d2 := destAt("10.1.0.50", nil), destAt("10.1.0.51", nil)
	w := func(op ipvs.WriteOp, s ipvs.Service, d ipvs.Destination) ipvs.Write {
		return ipvs.Write{Op: op, Service: s, Dest: d}
	}
	ws := []ipvs.Write{
		w(ipvs.WriteAddService, newSvc, ipvs.Destination{}),
		w(ipvs.WriteAddService, v4Svc, ipvs.Destination{}),
		w(ipvs.WriteAddDest, newSvc, d1),
		w(ipvs.WriteAddDest, ipvs.Service{Key: missingKey}, d1),
		w(ipvs.WriteUpdateDest, v4Svc, otherDest),
		w(ipvs.WriteAddDest, newSvc, d1),
		w(ipvs.WriteDeleteDest, v4Svc, otherDest),
		w(ipvs.WriteAddDest, v4Svc, destAt("10.1.0.7", func(d *ipvs.Destination) { d.Weight = -1 })),
		w(ipvs.WriteAddService, svcWith(newSvc, func(s *ipvs.Service) { s.Port, s.Scheduler = 54, "nosuch" }), ipvs.Destination{}),
		w(ipvs.WriteAddDest, v4Svc, v6Dest),
		w(ipvs.WriteUpdateService, svcWith(newSvc, func(s *ipvs.Service) { s.Scheduler = "wrr" }), ipvs.Destination{}),
		w(ipvs.WriteAddDest, newSvc, d2),
		w(ipvs.WriteDeleteService, ipvs.Service{Key: missingKey}, ipvs.Destination{}),
		w(ipvs.WriteUpdateDest, newSvc, destAt("10.1.0.51", func(d *ipvs.Destination) { d.Weight = 9 })),
		w(ipvs.WriteAddDest, v6Svc, destAt("ff02::1", nil)),
		w(ipvs.WriteDeleteDest, v6Svc, v6Dest),
	}
	want := []error{nil, unix.EEXIST, nil, unix.ESRCH, unix.ENOENT, unix.EEXIST, unix.ENOENT, unix.ERANGE,
		unix.ENOENT, unix.EAFNOSUPPORT, nil, nil, unix.ESRCH, nil, unix.EINVAL, nil}
	return ws, want
}

// testBatchFailures runs batchWithFailures in one batch on one kernel and
// one call at a time on another: the same errors, the same messages, the
// same table.
func testBatchFailures(t *testing.T, newKernel NewKernel) {
	ws, want := batchWithFailures()
	tables := make([][]ipvs.ServiceConfig, 2)
	msgs := make([][]string, 2)
	for i, apply := range []func(ipvs.Kernel, []ipvs.Write) []error{
		func(k ipvs.Kernel, ws []ipvs.Write) []error { return batcher(t, k).Apply(ws) },
		ipvs.ApplyEach,
	} {
		k := newKernel(t)
		must(t, k.AddService(v4Svc))
		must(t, k.AddService(v6Svc))
		must(t, k.AddDestination(v4Key, v4Dest))
		must(t, k.AddDestination(v6Key, v6Dest))
		errs := apply(k, ws)
		if len(errs) != len(ws) {
			t.Fatalf("%d errors for %d writes", len(errs), len(ws))
		}
		for j, err := range errs {
			if (want[j] == nil) != (err == nil) || (want[j] != nil && !errors.Is(err, want[j])) {
				t.Errorf("write %d (%v %s %s): got %v, want %v", j, ws[j].Op, ws[j].Service.Key, ws[j].Dest.DestKey, err, want[j])
			}
			msgs[i] = append(msgs[i], fmt.Sprint(err))
		}
		tables[i] = dumpCanonical(t, k)
	}
	for j := range ws {
		if msgs[0][j] != msgs[1][j] {
			t.Errorf("write %d: batched %q, alone %q", j, msgs[0][j], msgs[1][j])
		}
	}
	wantTable := expectTable(
		ipvs.ServiceConfig{Service: svcWith(ws[0].Service, func(s *ipvs.Service) { s.Scheduler = "wrr" }),
			Destinations: []ipvs.Destination{ws[2].Dest, ws[13].Dest}},
		ipvs.ServiceConfig{Service: v4Svc, Destinations: []ipvs.Destination{v4Dest}},
		ipvs.ServiceConfig{Service: v6Svc})
	for i, what := range []string{"after the batch", "after the single calls"} {
		if diff := cmp.Diff(wantTable, tables[i], cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: table differs (-want +got):\n%s", what, diff)
		}
	}
}

// testBatchLarge applies more writes than one sendmsg carries (3,300:
// 300 services with 10 real servers each), so the batch is cut and its
// acks read in several rounds, with one failing write per service.
func testBatchLarge(t *testing.T, newKernel NewKernel) {
	k := newKernel(t)
	var ws []ipvs.Write
	var want []ipvs.ServiceConfig
	for i := range 300 {
		s := ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP,
			Address: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "rr"}
		ws = append(ws, ipvs.Write{Op: ipvs.WriteAddService, Service: s})
		var ds []ipvs.Destination
		for j := range 10 {
			d := ipvs.Destination{DestKey: destKey(ipvs.IPv4, j%9), Weight: 1}
			ws = append(ws, ipvs.Write{Op: ipvs.WriteAddDest, Service: s, Dest: d})
			if j < 9 {
				ds = append(ds, d)
			}
		}
		want = append(want, ipvs.ServiceConfig{Service: s, Destinations: ds})
	}
	errs := batcher(t, k).Apply(ws)
	failed := 0
	for i, err := range errs {
		dup := i%11 == 10 // the tenth real server repeats the first
		if dup != errors.Is(err, unix.EEXIST) || (!dup && err != nil) {
			t.Fatalf("write %d (%v %s %s): %v", i, ws[i].Op, ws[i].Service.Key, ws[i].Dest.DestKey, err)
		}
		if err != nil {
			failed++
		}
	}
	if failed != 300 {
		t.Errorf("%d writes failed, want 300", failed)
	}
	checkTable(t, k, "after the large batch", expectTable(want...))
}

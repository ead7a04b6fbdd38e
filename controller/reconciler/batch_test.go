package reconciler_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// unbatched hides the fake's Apply: the reconciler makes one call per
// write, as it does on a kernel that cannot batch. It keeps the
// one-service read.
type unbatched struct{ *ipvstest.Fake }

func (u unbatched) Apply() {} // not an ipvs.Batcher

func reconcilerOn(t *testing.T, k ipvs.Kernel) *reconciler.Reconciler {
	t.Helper()
	r, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json")}, reconciler.Deps{
		Kernel:    k,
		Addresses: reconcilertest.NewAddresses(),
		Now:       func() time.Time { return time.Unix(0, 0) },
		Log:       zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBatchedSyncsMatchSingleCalls: a cold start of 1,000 services x 10
// real servers and then a mixed change leave the same table and results
// with batches as with one call per write, and the same number of
// writes, in far fewer batches than writes.
func TestBatchedSyncsMatchSingleCalls(t *testing.T) {
	batchedK, singleK := ipvstest.New(), ipvstest.New()
	if _, ok := ipvs.Kernel(unbatched{singleK}).(ipvs.Batcher); ok {
		t.Fatal("unbatched batches")
	}
	batched, single := reconcilerOn(t, batchedK), reconcilerOn(t, unbatched{singleK})
	d := bigDesired(1000, 10)
	change := func(d *desired.State) {
		d.Services[3].Destinations[0].Weight = 7                              // update in place
		d.Services[4].Destinations = d.Services[4].Destinations[2:]           // drains
		d.Services[5].Scheduler = "rr"                                        // update the service
		d.Services[6].Destinations = append(d.Services[6].Destinations[:9:9], // one more
			ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.9.9.9"), Port: 8080}, Weight: 1})
		d.Services = append(d.Services[:900], d.Services[901:]...) // one gone
	}
	for step, do := range []func(d *desired.State){func(*desired.State) {}, change} {
		do(&d)
		batchedK.ResetCalls()
		singleK.ResetCalls()
		bres, berr := batched.Sync(t.Context(), d)
		sres, serr := single.Sync(t.Context(), d)
		if berr != nil || serr != nil {
			t.Fatalf("step %d: batched: %v; single calls: %v", step, berr, serr)
		}
		if bres.String() != sres.String() {
			t.Errorf("step %d: batched %s, single calls %s", step, &bres, &sres)
		}
		if b, s := renderTable(t, batchedK), renderTable(t, singleK); b != s {
			t.Errorf("step %d: tables differ:\nbatched:\n%s\nsingle calls:\n%s", step, b, s)
		}
		if batchedK.Writes() != singleK.Writes() || singleK.Batches() != 0 {
			t.Errorf("step %d: %d writes batched, %d single (%d batches)", step, batchedK.Writes(), singleK.Writes(), singleK.Batches())
		}
		t.Logf("step %d: %d writes in %d batches", step, batchedK.Writes(), batchedK.Batches())
		if step == 0 && (batchedK.Batches() == 0 || batchedK.Writes()/batchedK.Batches() < 100) {
			t.Errorf("cold start: %d writes in %d batches, want at least 100 a batch", batchedK.Writes(), batchedK.Batches())
		}
	}
}

// callLog is a hook recording every write per virtual server, failing
// the calls fail says.
type callLog struct {
	mu    sync.Mutex
	calls map[ipvs.Key][]ipvstest.Op
	fail  func(op ipvstest.Op, k ipvs.Key) error
}

func (l *callLog) hook(op ipvstest.Op, k ipvs.Key, _ ipvs.DestKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if op.IsWrite() {
		l.calls[k] = append(l.calls[k], op)
	}
	if l.fail != nil {
		return l.fail(op, k)
	}
	return nil
}

// TestBatchedAddFailureSendsNoRealServers: when a service's add fails,
// its real servers are not written (they wait for the add's outcome, as
// one call at a time), the error names that service, the others of the
// same batch are programmed, and the retry creates it.
func TestBatchedAddFailureSendsNoRealServers(t *testing.T) {
	k := ipvstest.New()
	d := bigDesired(3, 2)
	bad := d.Services[1].Key
	log := &callLog{calls: map[ipvs.Key][]ipvstest.Op{}, fail: func(op ipvstest.Op, key ipvs.Key) error {
		if op == ipvstest.OpAddService && key == bad {
			return unix.ENOMEM
		}
		return nil
	}}
	k.SetHook(log.hook)
	now := time.Unix(0, 0)
	r, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json")}, reconciler.Deps{
		Kernel: k, Addresses: reconcilertest.NewAddresses(), Now: func() time.Time { return now }, Log: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Sync(t.Context(), d)
	var oe *reconciler.OpError
	if !errors.As(err, &oe) || oe.Service != bad || oe.Op != desired.OpAddService || !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("got %v, want the add of %s failing with ENOMEM", err, bad)
	}
	if got := log.calls[bad]; len(got) != 1 || k.Batches() == 0 {
		t.Errorf("writes on the failed service: %v (%d batches), want its add alone", got, k.Batches())
	}
	if res.Services.Added != 2 || res.Destinations.Added != 4 {
		t.Errorf("result %s: want the other two services with their real servers", &res)
	}
	log.fail = nil
	now = now.Add(2 * time.Second) // past the first retry's backoff
	if res, err = r.Apply(t.Context(), desired.Update{}); err != nil || res.Services.Added != 1 || res.Destinations.Added != 2 {
		t.Fatalf("retry: %s, %v", &res, err)
	}
}

// TestBatchedAddOfForeignServiceLeavesItAlone: a service created by someone
// else since the last dump makes our add fail with EEXIST; its real
// servers, batched or not, must never be written into that service.
func TestBatchedAddOfForeignServiceLeavesItAlone(t *testing.T) {
	k := ipvstest.New()
	d := bigDesired(3, 2)
	r := reconcilerOn(t, k)
	first := d
	first.Services = d.Services[:1]
	if _, err := r.Sync(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	foreign := ipvs.Service{Key: d.Services[1].Key, Scheduler: "sh"}
	must(t, k.AddService(foreign))
	res, err := r.Apply(t.Context(), desired.Update{Set: d.Services[1:]})
	if err != nil {
		t.Fatalf("%v (%s)", err, &res)
	}
	got, err := k.GetDestinations(foreign.Key)
	if err != nil || len(got) != 0 {
		t.Errorf("the foreign service got real servers %v (%v)", got, err)
	}
	if len(res.Conflicts) != 1 || res.Conflicts[0] != foreign.Key || res.Services.Added != 1 || res.Destinations.Added != 2 {
		t.Errorf("result %s, conflicts %v", &res, res.Conflicts)
	}
}

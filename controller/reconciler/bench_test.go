package reconciler_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

const benchServices, benchDests = 10000, 10

func benchReconciler(b testing.TB, k ipvs.Kernel) *reconciler.Reconciler {
	b.Helper()
	r, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(b.TempDir(), "state.json")}, benchDeps(k))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchDeps(k ipvs.Kernel) reconciler.Deps {
	return reconciler.Deps{
		Kernel:    k,
		Addresses: reconcilertest.NewAddresses(),
		Now:       func() time.Time { return time.Unix(0, 0) }, // no periodic resync
	}
}

// reportPerOp reports k's writes and reads over ops syncs.
func reportPerOp(b *testing.B, k *ipvstest.Fake, ops int) {
	b.ReportMetric(float64(k.Writes())/float64(ops), "writes/op")
	b.ReportMetric(float64(reads(k))/float64(ops), "dumps/op")
}

// benchSynced returns a reconciler that has synced the benchmark state d
// to a fake kernel.
func benchSynced(b *testing.B) (r *reconciler.Reconciler, d desired.State) {
	b.Helper()
	d = bigDesired(benchServices, benchDests)
	r = benchReconciler(b, ipvstest.New())
	benchSync(b, r, d)
	return r, d
}

func benchSync(b *testing.B, r *reconciler.Reconciler, d desired.State) reconciler.Result {
	b.Helper()
	res, err := r.Sync(b.Context(), d)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// BenchmarkColdSync10k creates 10,000 services x 10 real servers from an
// empty table.
func BenchmarkColdSync10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	for b.Loop() {
		b.StopTimer()
		r := benchReconciler(b, ipvstest.New())
		b.StartTimer()
		benchSync(b, r, d)
	}
}

// BenchmarkIncrementalSync10k changes one real server's weight per sync.
func BenchmarkIncrementalSync10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	k := ipvstest.New()
	r := benchReconciler(b, k)
	benchSync(b, r, d)
	k.ResetCalls()
	i := 0
	for b.Loop() {
		i++
		d.Services[i%benchServices].Destinations[0].Weight = 1 + i
		benchSync(b, r, d)
	}
	reportPerOp(b, k, i)
}

// BenchmarkNoopSync10k syncs an unchanged state.
func BenchmarkNoopSync10k(b *testing.B) {
	r, d := benchSynced(b)
	for b.Loop() {
		benchSync(b, r, d)
	}
}

// BenchmarkFullResync10k dumps and diffs an unchanged table: the whole
// sweep per op, run as the daemon's loop runs it (syncs without a change),
// with the syncs it took, the first (the dump's) and the longest of the
// others: what a change arriving meanwhile may wait for.
func BenchmarkFullResync10k(b *testing.B) {
	r, _ := benchSynced(b)
	var syncs int
	var first, later time.Duration
	for b.Loop() {
		r.RequestFullResync()
		for i, done := 0, false; !done; i++ {
			start := time.Now()
			res, err := r.Apply(b.Context(), desired.Update{})
			if err != nil {
				b.Fatal(err)
			}
			if took := time.Since(start); i == 0 {
				first = max(first, took)
			} else {
				later = max(later, took)
			}
			if res.Writes() != 0 {
				b.Fatalf("full resync wrote: %s", &res)
			}
			done = !res.Full || res.SweepDone
			syncs++
		}
	}
	b.ReportMetric(float64(syncs)/float64(b.N), "syncs/op")
	b.ReportMetric(float64(first.Microseconds()), "first-sync-µs")
	b.ReportMetric(float64(later.Microseconds()), "longest-later-sync-µs")
}

// BenchmarkDiff10k diffs 10,000 equal services, the CPU floor of a full
// resync without the fake's dump.
func BenchmarkDiff10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	actual := make([]ipvs.ServiceConfig, len(d.Services))
	for i, vs := range d.Services {
		actual[i] = ipvs.ServiceConfig{Service: vs.Service, Destinations: vs.Destinations}
	}
	for b.Loop() {
		for i := range d.Services {
			if ops := desired.Diff(&d.Services[i], &actual[i]); len(ops) != 0 {
				b.Fatalf("ops: %v", ops)
			}
		}
	}
}

// benchApplyOneChange applies one changed real server weight per op to a
// table of n services x benchDests, the way a source that knows what
// changed drives the reconciler. Its cost must not grow with n. The
// in-memory variant measures the reconciler alone; on-disk adds what a
// change costs in files: the ownership record (unchanged by a weight) and
// the published desired state (publish.go), rewritten whole on any change.
func benchApplyOneChange(b *testing.B, n int) {
	for _, onDisk := range []bool{false, true} {
		name := "in-memory"
		if onDisk {
			name = "on-disk"
		}
		b.Run(name, func(b *testing.B) {
			d := bigDesired(n, benchDests)
			k := ipvstest.New()
			r := benchReconciler(b, k)
			if !onDisk {
				var err error
				r, err = reconciler.NewInMemory(reconciler.Config{}, benchDeps(k))
				if err != nil {
					b.Fatal(err)
				}
			}
			benchSync(b, r, d)
			k.ResetCalls()
			i := 0
			for b.Loop() {
				i++
				vs := &d.Services[(i*7919)%n]
				vs.Destinations[i%benchDests].Weight = 2 + i%3
				res, err := r.Apply(b.Context(), desired.Update{Set: []desired.VirtualServer{*vs}})
				if err != nil {
					b.Fatal(err)
				}
				if res.Planned != 1 || res.Full {
					b.Fatalf("one change planned %d services (full %t)", res.Planned, res.Full)
				}
			}
			reportPerOp(b, k, i)
		})
	}
}

func BenchmarkApplyOneChange100(b *testing.B) { benchApplyOneChange(b, 100) }
func BenchmarkApplyOneChange10k(b *testing.B) { benchApplyOneChange(b, benchServices) }

// BenchmarkNoopApply10k applies an empty Update: nothing to retry, check
// or write.
func BenchmarkNoopApply10k(b *testing.B) {
	r, _ := benchSynced(b)
	for b.Loop() {
		if _, err := r.Apply(b.Context(), desired.Update{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyOneChangePublished10k is the on-disk one change with a
// write of desired.json due at each: what the sync allocates to hand the
// change to the background writer, and the writer's own garbage, of a
// table of 10,000 services x benchDests.
func BenchmarkApplyOneChangePublished10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	k := ipvstest.New()
	now := time.Unix(0, 0)
	deps := benchDeps(k)
	deps.Now = func() time.Time { return now }
	r, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(b.TempDir(), "state.json"), FullResyncInterval: 1000 * time.Hour}, deps)
	if err != nil {
		b.Fatal(err)
	}
	benchSync(b, r, d)
	i := 0
	for b.Loop() {
		i++
		now = now.Add(time.Minute) // past any spacing of the writes
		vs := &d.Services[(i*7919)%benchServices]
		vs.Destinations[i%benchDests].Weight = 2 + i%3
		if _, err := r.Apply(b.Context(), desired.Update{Set: []desired.VirtualServer{*vs}}); err != nil {
			b.Fatal(err)
		}
	}
	r.WaitPublished() // before the directory is removed
}

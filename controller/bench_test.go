package controller_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller"
	"github.com/ipvsd/ipvsd/controller/controllertest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

const benchServices, benchDests = 10000, 10

func benchReconciler(b *testing.B, k ipvs.Kernel) *controller.Reconciler {
	b.Helper()
	r, err := controller.New(controller.Config{RecordPath: filepath.Join(b.TempDir(), "state.json")}, controller.Deps{
		Kernel:    k,
		Addresses: controllertest.NewAddresses(),
		Now:       func() time.Time { return time.Unix(0, 0) }, // no periodic resync
	})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchSync(b *testing.B, r *controller.Reconciler, d controller.Desired) controller.Result {
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
	b.ReportMetric(float64(k.Writes())/float64(i), "writes/op")
	b.ReportMetric(float64(reads(k))/float64(i), "dumps/op")
}

// BenchmarkNoopSync10k syncs an unchanged state.
func BenchmarkNoopSync10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	r := benchReconciler(b, ipvstest.New())
	benchSync(b, r, d)
	for b.Loop() {
		benchSync(b, r, d)
	}
}

// BenchmarkFullResync10k dumps and diffs an unchanged table.
func BenchmarkFullResync10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	r := benchReconciler(b, ipvstest.New())
	benchSync(b, r, d)
	for b.Loop() {
		r.RequestFullResync()
		if res := benchSync(b, r, d); res.Writes() != 0 {
			b.Fatalf("full resync wrote: %s", &res)
		}
	}
}

// BenchmarkDiff10k diffs 10,000 equal services, the CPU floor of a full
// resync without the fake's dump.
func BenchmarkDiff10k(b *testing.B) {
	d := bigDesired(benchServices, benchDests)
	actual := make([]ipvs.ServiceWithDests, len(d.Services))
	for i, vs := range d.Services {
		actual[i] = ipvs.ServiceWithDests{Service: vs.Service, Destinations: vs.Destinations}
	}
	for b.Loop() {
		for i := range d.Services {
			if ops := controller.Diff(&d.Services[i], &actual[i]); len(ops) != 0 {
				b.Fatalf("ops: %v", ops)
			}
		}
	}
}

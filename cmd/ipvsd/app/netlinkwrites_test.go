package app

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type countingHandle struct{ n uint64 }

func (c *countingHandle) Writes() uint64 { return c.n }

// TestNetlinkWritesFollowsTheHandle: the exported counter is the handle's
// count at each scrape, not a copy taken at registration.
func TestNetlinkWritesFollowsTheHandle(t *testing.T) {
	h := &countingHandle{}
	reg := prometheus.NewRegistry()
	reg.MustRegister(netlinkWrites(h))
	for _, want := range []uint64{0, 7, 4242} {
		h.n = want
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) != 1 || mfs[0].GetName() != "ipvsd_ipvs_netlink_writes_total" {
			t.Fatalf("gathered %v, want ipvsd_ipvs_netlink_writes_total alone", mfs)
		}
		if got := mfs[0].GetMetric()[0].GetCounter().GetValue(); got != float64(want) {
			t.Errorf("counter %v, want %d", got, want)
		}
	}
}

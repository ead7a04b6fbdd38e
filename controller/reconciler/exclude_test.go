package reconciler_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
)

// TestExcludeCIDRs: a virtual server ipvsd created in ipvs.excludeCIDRs is
// programmed while desired, and when no longer desired it is left in the
// kernel and let go (no longer recorded), on an incremental sync and on a
// full resync alike; the others are deleted as always.
func TestExcludeCIDRs(t *testing.T) {
	for _, full := range []bool{false, true} {
		e := newEnv(t)
		e.cfg.ExcludeCIDRs = []netip.Prefix{netip.MustParsePrefix("10.96.200.0/24")}
		e.restart()
		kept, gone := desiredtest.TCP("10.96.200.1:80"), desiredtest.TCP("10.96.0.1:80")
		e.sync(desired.State{Services: []desired.VirtualServer{
			desiredtest.VServer(kept, "rr", desiredtest.Dest("10.1.0.1:80", 1)),
			desiredtest.VServer(gone, "rr", desiredtest.Dest("10.1.0.2:80", 1)),
		}})
		if owned := e.r.Owned().Services; len(owned) != 2 {
			t.Fatalf("full %t: owned %v, want both", full, owned)
		}
		if full {
			e.advance(time.Minute)
		}
		e.sync(desired.State{})
		dump, err := e.kernel.Dump()
		must(t, err)
		if len(dump) != 1 || dump[0].Key != kept {
			t.Errorf("full %t: kernel holds %v, want only %s", full, dump, kept)
		}
		if owned := e.r.Owned().Services; len(owned) != 0 {
			t.Errorf("full %t: still recorded %v", full, owned)
		}
	}
}

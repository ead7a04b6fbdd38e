package reconciler_test

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestDesiredStatePublished(t *testing.T) {
	e := newEnv(t)
	path := runstate.DesiredPath(e.cfg.RecordPath)
	if _, err := runstate.LoadDesired(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("before the first sync: %v, want ErrNotExist", err)
	}
	d := webDesired()
	d.Services[0].Flags = ipvs.FlagOnePacket
	d.Services[0].Destinations[0].Forwarding = ipvs.Tunnel
	d.Services[0].Destinations[0].UpperThreshold = 9
	e.sync(d)
	got, err := runstate.LoadDesired(path)
	if err != nil {
		t.Fatal(err)
	}
	// What is published is the normalized desired state.
	var want []desired.VirtualServer
	for _, vs := range d.Services {
		vs.Service = vs.Service.Canonical()
		vs.DrainTimeout = 0 // not published: it is not compared with the kernel
		want = append(want, vs)
	}
	sortVS := cmpopts.SortSlices(func(a, b desired.VirtualServer) bool { return a.Key.Less(b.Key) })
	sortDests := cmpopts.SortSlices(func(a, b ipvs.Destination) bool { return a.DestKey.Less(b.DestKey) })
	if diff := cmp.Diff(want, got, sortVS, sortDests, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}

	// An unchanged desired state is not written again.
	old := time.Unix(1, 0)
	must(t, os.Chtimes(path, old, old))
	e.sync(d)
	if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("unchanged desired state rewritten (%v)", err)
	}
	// A change right after a write is coalesced: written once the publish
	// interval has passed, by the sync the reconciler asks for.
	d.Services[0].Destinations[0].Weight = 42
	res := e.sync(d)
	if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("desired state rewritten within the publish interval (%v)", err)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("pending publish: RequeueAfter %v, want (0, 1s]", res.RequeueAfter)
	}
	e.advance(res.RequeueAfter)
	e.sync(d)
	if st, err := os.Stat(path); err != nil || st.ModTime().Equal(old) {
		t.Errorf("changed desired state not rewritten (%v)", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".desired.json.*")); len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

// TestDesiredStatePublishedInTheBackground: once a write of desired.json
// takes too long, the file is written beside the syncs, and still follows
// every change.
// TestLargeDesiredStatePublishedInTheBackgroundAtOnce: a desired state of
// backgroundFrom virtual servers or more is written in the background
// from the first write on, and the file then holds it.
func TestLargeDesiredStatePublishedInTheBackgroundAtOnce(t *testing.T) {
	d := webDesired()
	defer reconciler.PublishInBackgroundFrom(len(d.Services))()
	e := newEnv(t)
	e.sync(d)
	if bg, _ := e.r.PublishedInBackground(); !bg {
		t.Fatal("the first write of a large state was made in the sync")
	}
	// Polled: the write may be over before a channel could be taken.
	var got []desired.VirtualServer
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got, err = runstate.LoadDesired(runstate.DesiredPath(e.cfg.RecordPath)); err == nil && len(got) == len(d.Services) {
			break
		}
	}
	if err != nil || len(got) != len(d.Services) {
		t.Fatalf("desired.json after 30 s: %d virtual servers (%v), want %d", len(got), err, len(d.Services))
	}

	// One fewer than the bound: written in the sync.
	defer reconciler.PublishInBackgroundFrom(len(d.Services) + 1)()
	small := newEnv(t)
	small.sync(d)
	if bg, _ := small.r.PublishedInBackground(); bg {
		t.Error("the first write of a small state went to the background")
	}
	// Grown to the bound by a change of one service: the write after it
	// goes to the background, although it hands over that one change.
	grown := d
	grown.Services = append(slices.Clone(d.Services), desiredtest.VServer(desiredtest.TCP("192.0.2.9:80"), "rr", desiredtest.Dest("10.0.0.9:80", 1)))
	grown.Addresses = grown.ServiceAddresses()
	small.advance(time.Minute) // past the publish interval
	small.sync(grown)
	if bg, _ := small.r.PublishedInBackground(); !bg {
		t.Error("the write of a state grown to the bound was made in the sync")
	}
}

func TestDesiredStatePublishedInTheBackground(t *testing.T) {
	defer reconciler.PublishInBackgroundAfter(0)()
	e := newEnv(t)
	path := runstate.DesiredPath(e.cfg.RecordPath)
	d := webDesired()
	e.sync(d) // written in the sync, and found slow
	if bg, _ := e.r.PublishedInBackground(); !bg {
		t.Fatal("a slow write left the writes in the sync")
	}
	for i, w := range []int{7, 8} {
		d.Services[1].Destinations[0].Weight = w
		e.advance(time.Minute) // past the publish interval
		_, idle := e.r.PublishedInBackground()
		e.sync(d)
		select {
		case <-idle:
		case <-time.After(30 * time.Second):
			t.Fatalf("change %d: desired.json not written within 30 s", i)
		}
		got, err := runstate.LoadDesired(path)
		must(t, err)
		found := false
		for _, vs := range got {
			if vs.Key == dns && len(vs.Destinations) == 1 && vs.Destinations[0].Weight == w {
				found = true
			}
		}
		if !found {
			t.Errorf("change %d: desired.json does not hold dns's weight %d: %+v", i, w, got)
		}
	}
}

package runstate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestPublishChanges: changes handed over one after another leave the
// file what Publish of the whole state would write (read back with
// LoadDesired), each changed service encoded once; an unchanged value
// writes nothing; a failed write is made by the next call, with what the
// failed one noted.
func TestPublishChanges(t *testing.T) {
	_, vss := v1Fixture()
	dir := t.TempDir()
	ds := DesiredStore{Path: filepath.Join(dir, "desired.json")}
	mustDo(t, ds.PublishChanges(desiredMap(vss)))
	check := func(step string, want []desired.VirtualServer) {
		t.Helper()
		got, err := LoadDesired(ds.Path)
		mustDo(t, err)
		if diff := cmp.Diff(want, got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step, diff)
		}
	}
	check("all of it", vss)

	changed := vss[0]
	changed.Scheduler = "wlc"
	gone := vss[1].Key
	encodes := ds.encodes
	mustDo(t, ds.PublishChanges(map[ipvs.Key]*desired.VirtualServer{changed.Key: &changed, gone: nil}))
	want := append([]desired.VirtualServer{changed}, vss[2:]...)
	check("one changed, one gone", want)
	if n := ds.encodes - encodes; n != 1 {
		t.Errorf("%d services encoded for one changed, want 1", n)
	}

	fi, err := os.Stat(ds.Path)
	mustDo(t, err)
	same := changed
	mustDo(t, ds.PublishChanges(map[ipvs.Key]*desired.VirtualServer{same.Key: &same, gone: nil}))
	if fi2, err := os.Stat(ds.Path); err != nil || !os.SameFile(fi, fi2) {
		t.Errorf("an unchanged value rewrote the file (%v)", err)
	}

	// A write that fails (a directory in the file's place: the rename
	// fails, root or not) keeps what it noted.
	back := vss[1]
	mustDo(t, os.Remove(ds.Path))
	mustDo(t, os.Mkdir(ds.Path, 0o700))
	if err := ds.PublishChanges(map[ipvs.Key]*desired.VirtualServer{back.Key: &back}); err == nil {
		t.Fatal("a write over a directory did not fail")
	}
	mustDo(t, os.Remove(ds.Path))
	mustDo(t, ds.PublishChanges(nil))
	check("after a failed write", append([]desired.VirtualServer{changed, back}, vss[2:]...))
}

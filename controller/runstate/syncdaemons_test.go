package runstate

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/ipvs"
)

func TestSyncDaemonStore(t *testing.T) {
	dir := t.TempDir()
	s := SyncDaemonStore{Path: SyncDaemonsPath(filepath.Join(dir, "state.json"))}
	got, err := s.Load()
	if err != nil || got != nil {
		t.Fatalf("Load of no file = %v, %v; want nothing", got, err)
	}
	want := []ipvs.SyncDaemon{
		{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 9},
		{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 9, MaxLen: 1400, Group: netip.MustParseAddr("239.0.0.81"), Port: 9000, TTL: 2},
	}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	const golden = `{"version":1,"daemons":[{"state":"master","interface":"eth1","syncID":9},` +
		`{"state":"backup","interface":"eth1","syncID":9,"maxLen":1400,"group":"239.0.0.81","port":9000,"ttl":2}]}` + "\n"
	if diff := cmp.Diff(golden, string(b)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if got, err = s.Load(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if err := s.Save(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
		t.Errorf("Save(nil) left the file: %v", err)
	}
}

func TestSyncDaemonStoreRefuses(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"unknown field", `{"version":1,"daemons":[{"state":"master","interface":"eth1","syncID":1,"extra":1}]}`, `unknown field "daemons[0].extra"`},
		{"other version", `{"version":2,"daemons":[]}`, "version 2, want 1"},
		{"bad role", `{"version":1,"daemons":[{"state":"primary","interface":"eth1","syncID":1}]}`, `want master or backup`},
		{"role twice", `{"version":1,"daemons":[{"state":"backup","interface":"a","syncID":1},{"state":"backup","interface":"b","syncID":1}]}`, "the backup daemon twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SyncDaemonsFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := SyncDaemonStore{Path: path}.Load()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load = %v; want an error naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}

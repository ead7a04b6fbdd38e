package runstate

import (
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// asRoot fails a test that must give a file away: the daemon runs as
// root, and so does make test.
func asRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root to give a file to another user")
	}
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	mustDo(t, err)
	return fi.Mode().Perm()
}

// TestSaveModes: the record and the published desired state are 0600, in
// a directory created 0700, whatever the umask allows.
func TestSaveModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "ipvsd")
	rec, vss := v1Fixture()
	s := OwnershipStore{Path: filepath.Join(dir, "state.json")}
	mustDo(t, s.Save(rec))
	ds := DesiredStore{Path: DesiredPath(s.Path)}
	mustDo(t, ds.Publish(desiredMap(vss)))
	for path, want := range map[string]fs.FileMode{dir: 0o700, filepath.Dir(dir): 0o700, s.Path: 0o600, ds.Path: 0o600} {
		if got := modeOf(t, path); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	// An existing file of another mode (an older ipvsd wrote 0644) is
	// replaced by a 0600 one.
	mustDo(t, os.Chmod(s.Path, 0o644))
	rec.Addresses[netip.MustParseAddr("192.0.2.99")] = true
	mustDo(t, s.Save(rec))
	if got := modeOf(t, s.Path); got != 0o600 {
		t.Errorf("rewritten record: mode %v, want 0600", got)
	}
}

// TestRefusesPlantedFiles: a record that someone other than ipvsd could
// have put or changed is refused, on load and on save, and the error says
// why.
func TestRefusesPlantedFiles(t *testing.T) {
	rec, _ := v1Fixture()
	good, err := rec.marshal()
	mustDo(t, err)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the record path
		want  string
		save  bool // Save refuses it too
	}{
		{name: "symlinked record", want: "state.json is a symbolic link", setup: func(t *testing.T, dir string) string {
			elsewhere := filepath.Join(t.TempDir(), "forged.json")
			mustDo(t, os.WriteFile(elsewhere, good, 0o600))
			mustDo(t, os.Symlink(elsewhere, filepath.Join(dir, "state.json")))
			return filepath.Join(dir, "state.json")
		}},
		{name: "symlinked directory", save: true, want: "link is a symbolic link", setup: func(t *testing.T, dir string) string {
			mustDo(t, os.WriteFile(filepath.Join(dir, "state.json"), good, 0o600))
			link := filepath.Join(t.TempDir(), "link")
			mustDo(t, os.Symlink(dir, link))
			return filepath.Join(link, "state.json")
		}},
		{name: "group-writable directory", save: true, want: "is writable by others (mode -rwxrwx---)", setup: func(t *testing.T, dir string) string {
			mustDo(t, os.WriteFile(filepath.Join(dir, "state.json"), good, 0o600))
			mustDo(t, os.Chmod(dir, 0o770))
			return filepath.Join(dir, "state.json")
		}},
		{name: "world-writable record", want: "state.json is writable by others (mode -rw-rw-rw-)", setup: func(t *testing.T, dir string) string {
			mustDo(t, os.WriteFile(filepath.Join(dir, "state.json"), good, 0o600))
			mustDo(t, os.Chmod(filepath.Join(dir, "state.json"), 0o666))
			return filepath.Join(dir, "state.json")
		}},
		{name: "record owned by another user", want: "state.json is owned by uid 65534", setup: func(t *testing.T, dir string) string {
			mustDo(t, os.WriteFile(filepath.Join(dir, "state.json"), good, 0o600))
			asRoot(t)
			mustDo(t, os.Chown(filepath.Join(dir, "state.json"), 65534, 65534))
			return filepath.Join(dir, "state.json")
		}},
		{name: "directory owned by another user", save: true, want: "is owned by uid 65534, not by uid", setup: func(t *testing.T, dir string) string {
			mustDo(t, os.WriteFile(filepath.Join(dir, "state.json"), good, 0o600))
			asRoot(t)
			mustDo(t, os.Chown(dir, 65534, 65534))
			return filepath.Join(dir, "state.json")
		}},
		{name: "not a file", want: "state.json is not a regular file", setup: func(t *testing.T, dir string) string {
			mustDo(t, os.Mkdir(filepath.Join(dir, "state.json"), 0o700))
			return filepath.Join(dir, "state.json")
		}},
		{name: "FIFO", want: "state.json is not a regular file", setup: func(t *testing.T, dir string) string {
			mustDo(t, unix.Mkfifo(filepath.Join(dir, "state.json"), 0o600))
			return filepath.Join(dir, "state.json")
		}},
		{name: "too large", want: "is larger than 67108864 bytes", setup: func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "state.json")
			mustDo(t, os.WriteFile(path, []byte(" "), 0o600))
			mustDo(t, os.Truncate(path, maxRecordSize+1))
			return path
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ipvsd")
			mustDo(t, os.Mkdir(dir, 0o700))
			path := tc.setup(t, dir)
			if got, err := LoadRecord(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load: got %v, %v; want an error with %q", got.Services, err, tc.want)
			}
			if !tc.save {
				return
			}
			s := OwnershipStore{Path: path}
			if err := s.Save(rec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("save: got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestAcceptsSharedStickyDirectory: a record in a directory like /tmp,
// writable by all but sticky, is ours as long as the file is: no one else
// can replace it there.
func TestAcceptsSharedStickyDirectory(t *testing.T) {
	dir := t.TempDir()
	mustDo(t, os.Chmod(dir, 0o777|fs.ModeSticky))
	rec, _ := v1Fixture()
	s := OwnershipStore{Path: filepath.Join(dir, "state.json")}
	mustDo(t, s.Save(rec))
	if got, err := LoadRecord(s.Path); err != nil || !got.Equal(rec) {
		t.Errorf("got %v, %v", got, err)
	}
	if got := modeOf(t, dir); got != 0o777 {
		t.Errorf("the shared directory's mode was changed to %v", got)
	}
}

package runstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ipvsd/ipvsd/ipvs"
)

// SyncDaemonsFile is the name of the record of the sync daemons ipvsd
// started, beside the ownership record. It is a file of its own: the
// ownership record is about virtual servers and addresses, and an older
// ipvsd reading it must not meet a field it refuses.
const SyncDaemonsFile = "sync-daemons.json"

// SyncDaemonsPath is the sync daemon record that goes with the ownership
// record at recordPath.
func SyncDaemonsPath(recordPath string) string {
	return filepath.Join(filepath.Dir(recordPath), SyncDaemonsFile)
}

// SyncDaemonStore keeps, in a file under /run (which lives exactly as
// long as the kernel's daemons), the sync daemons ipvsd started, each as
// it asked for it: those are the only ones it ever stops on its own.
type SyncDaemonStore struct{ Path string }

type syncDaemonsFile struct {
	Version int               `json:"version"`
	Daemons []ipvs.SyncDaemon `json:"daemons"`
}

const syncDaemonsVersion = 1

// Load returns the daemons recorded; none when there is no file. A file
// ipvsd cannot have written (see readRunFile, an unknown field, another
// version, a role twice) is an error naming it.
func (s SyncDaemonStore) Load() ([]ipvs.SyncDaemon, error) {
	b, err := readRunFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync daemon record: %w", err)
	}
	var f syncDaemonsFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, fmt.Errorf("sync daemon record %s: %w", s.Path, err)
	}
	if f.Version != syncDaemonsVersion {
		return nil, fmt.Errorf("sync daemon record %s: version %d, want %d", s.Path, f.Version, syncDaemonsVersion)
	}
	seen := map[ipvs.SyncState]bool{}
	for _, d := range f.Daemons {
		if seen[d.State] {
			return nil, fmt.Errorf("sync daemon record %s: the %s daemon twice", s.Path, d.State)
		}
		seen[d.State] = true
	}
	return f.Daemons, nil
}

// Save replaces the record; with no daemons it removes the file.
func (s SyncDaemonStore) Save(ds []ipvs.SyncDaemon) error {
	if len(ds) == 0 {
		return ignoreMissing(os.Remove(s.Path))
	}
	b, err := json.Marshal(syncDaemonsFile{Version: syncDaemonsVersion, Daemons: ds})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.Path, append(b, '\n')); err != nil {
		return fmt.Errorf("writing sync daemon record: %w", err)
	}
	return nil
}

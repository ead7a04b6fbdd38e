package runstate

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"

	"github.com/ipvsd/ipvsd/ipvs"
)

// DefaultRecordPath is where the ownership record lives. /run is a tmpfs
// that lives exactly as long as the kernel's IPVS table: after a reboot
// both are empty, so the record never claims services of an earlier boot.
const DefaultRecordPath = "/run/ipvsd/state.json"

// Record is what ipvsd created: the keys of its virtual servers (with their
// owner labels, for humans) and the addresses it bound. Anything else in the
// kernel is foreign and never modified.
type Record struct {
	Services map[ipvs.Key]string
	// Config holds, for each service of Services, the parameters ipvsd
	// last wrote (canonical, see ipvs.Service.Canonical): a service whose
	// parameters in the kernel differ was changed by someone else, and is
	// no longer taken for ours. A service recorded by an ipvsd that did
	// not keep them has none.
	Config    map[ipvs.Key]ipvs.Service
	Addresses map[netip.Addr]bool
}

func NewRecord() Record {
	return Record{Services: map[ipvs.Key]string{}, Config: map[ipvs.Key]ipvs.Service{}, Addresses: map[netip.Addr]bool{}}
}

// Clone returns a copy that shares nothing with r.
func (r Record) Clone() Record {
	c := Record{Services: maps.Clone(r.Services), Config: maps.Clone(r.Config), Addresses: maps.Clone(r.Addresses)}
	if c.Config == nil {
		c.Config = map[ipvs.Key]ipvs.Service{}
	}
	return c
}

// Equal reports whether r and o name the same services, owners,
// parameters and addresses.
func (r Record) Equal(o Record) bool {
	return maps.Equal(r.Services, o.Services) && maps.Equal(r.Config, o.Config) && maps.Equal(r.Addresses, o.Addresses)
}

// OwnershipStore persists a Record, skipping writes that would not change the
// file. An empty path keeps the record in memory only (tests, dry runs).
type OwnershipStore struct {
	Path string
	// sum is the SHA-256 of the file last written or read, so that a
	// record whose changes cancelled out is not written again. Neither
	// the bytes nor a copy of the record are kept: at 10,000 Services
	// they were 2.6 MB and 4.6 MB of the daemon's heap, and the
	// reconciler calls Save only when it changed the record, so the
	// encoding is rarely wasted.
	sum     [sha256.Size]byte
	haveSum bool
}

// Load reads the record; a missing file is an empty record (first start
// since boot). A record that ipvsd cannot have written (see readRunFile
// and unmarshalRecord) is refused whole, with every fault found: the
// caller must then not touch the kernel on its say-so.
func (s *OwnershipStore) Load() (Record, error) {
	if s.Path == "" {
		return NewRecord(), nil
	}
	b, err := readRunFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewRecord(), nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading ownership record: %w", err)
	}
	r, err := unmarshalRecord(b)
	if err != nil {
		return Record{}, fmt.Errorf("ownership record %s is not one ipvsd wrote: %w", s.Path, err)
	}
	s.sum, s.haveSum = sha256.Sum256(b), true
	return r, nil
}

// Save writes r atomically: a reader (or a restarted ipvsd) sees either the
// old record or the new one, never a torn file.
func (s *OwnershipStore) Save(r Record) error {
	if s.Path == "" {
		return nil
	}
	b, err := r.marshal()
	if err != nil {
		return fmt.Errorf("encoding ownership record: %w", err)
	}
	sum := sha256.Sum256(b)
	if s.haveSum && sum == s.sum {
		return nil
	}
	if err := writeFileAtomic(s.Path, b); err != nil {
		return fmt.Errorf("writing ownership record: %w", err)
	}
	s.sum, s.haveSum = sum, true
	return nil
}

// LoadRecord reads the ownership record at path, for inspection tools.
func LoadRecord(path string) (Record, error) {
	s := OwnershipStore{Path: path}
	return s.Load()
}

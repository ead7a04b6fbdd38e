package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"slices"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvsjson"
)

// DefaultRecordPath is where the ownership record lives. /run is a tmpfs
// that lives exactly as long as the kernel's IPVS table: after a reboot
// both are empty, so the record never claims services of an earlier boot.
const DefaultRecordPath = "/run/ipvsd/state.json"

// Record is what ipvsd created: the keys of its virtual servers (with their
// owner labels, for humans) and the addresses it bound. Anything else in the
// kernel is foreign and never modified.
type Record struct {
	Services  map[ipvs.Key]string
	Addresses map[netip.Addr]bool
}

func NewRecord() Record {
	return Record{Services: map[ipvs.Key]string{}, Addresses: map[netip.Addr]bool{}}
}

// Clone returns a copy that shares nothing with r.
func (r Record) Clone() Record {
	return Record{Services: maps.Clone(r.Services), Addresses: maps.Clone(r.Addresses)}
}

// Equal reports whether r and o name the same services, owners and addresses.
func (r Record) Equal(o Record) bool {
	return maps.Equal(r.Services, o.Services) && maps.Equal(r.Addresses, o.Addresses)
}

// recordFile is the on-disk form: sorted lists, so the file is stable and
// diffable. Services are read as ipvsjson.Service, the shape the desired
// state and `ipvsd list -o json` share, and written as recordService.
type recordFile[S recordService | ipvsjson.Service] struct {
	Version   int          `json:"version"`
	Services  []S          `json:"services"`
	Addresses []netip.Addr `json:"addresses"`
}

// recordService is a service of the shared shape with only its key and
// owner set, spelled as the first record was: the family as a number,
// the address before the protocol. Those bytes are pinned (the
// reconciler's tests compare them), and the previous ipvsd, should a
// node roll back to it, reads only them. Because the reader already
// takes the shared spelling, a later ipvsd can write it without
// stranding this one.
type recordService struct {
	Family   uint8      `json:"family"`
	Address  netip.Addr `json:"address,omitzero"`
	Protocol string     `json:"protocol,omitempty"`
	Port     uint16     `json:"port,omitempty"`
	FWMark   uint32     `json:"fwmark,omitempty"`
	Owner    string     `json:"owner,omitempty"`
}

const recordVersion = 1

func (r Record) marshal() ([]byte, error) {
	f := recordFile[recordService]{Version: recordVersion, Services: []recordService{}, Addresses: []netip.Addr{}}
	keys := slices.SortedFunc(maps.Keys(r.Services), ipvs.Key.Compare)
	for _, k := range keys {
		j := ipvsjson.FromKey(k)
		f.Services = append(f.Services, recordService{
			Family: uint8(j.Family), Address: j.Address, Protocol: j.Protocol, Port: j.Port, FWMark: j.FWMark, Owner: r.Services[k],
		})
	}
	f.Addresses = slices.SortedFunc(maps.Keys(r.Addresses), netip.Addr.Compare)
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

func unmarshalRecord(b []byte) (Record, error) {
	var f recordFile[ipvsjson.Service]
	if err := json.Unmarshal(b, &f); err != nil {
		return Record{}, err
	}
	if f.Version != recordVersion {
		return Record{}, fmt.Errorf("unsupported version %d", f.Version)
	}
	r := NewRecord()
	for _, s := range f.Services {
		k, err := s.Key.IPVS()
		if err != nil {
			return Record{}, err
		}
		r.Services[k] = s.Owner
	}
	for _, a := range f.Addresses {
		r.Addresses[a] = true
	}
	return r, nil
}

// OwnershipStore persists a Record, skipping writes that would not change the
// file. An empty path keeps the record in memory only (tests, dry runs).
type OwnershipStore struct {
	Path string
	last []byte
	// saved is the record last written or read; comparing against it
	// avoids encoding a large record when changes cancelled out (the
	// reconciler calls save only when it changed the record).
	saved *Record
}

// Load reads the record; a missing file is an empty record (first start
// since boot).
func (s *OwnershipStore) Load() (Record, error) {
	if s.Path == "" {
		return NewRecord(), nil
	}
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewRecord(), nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading ownership record: %w", err)
	}
	r, err := unmarshalRecord(b)
	if err != nil {
		return Record{}, fmt.Errorf("parsing ownership record %s: %w", s.Path, err)
	}
	s.last = b
	saved := r.Clone()
	s.saved = &saved
	return r, nil
}

// Save writes r atomically: a reader (or a restarted ipvsd) sees either the
// old record or the new one, never a torn file.
func (s *OwnershipStore) Save(r Record) error {
	if s.Path == "" || (s.saved != nil && s.saved.Equal(r)) {
		return nil
	}
	b, err := r.marshal()
	if err != nil {
		return fmt.Errorf("encoding ownership record: %w", err)
	}
	if bytes.Equal(b, s.last) {
		return nil
	}
	if err := writeFileAtomic(s.Path, b); err != nil {
		return fmt.Errorf("writing ownership record: %w", err)
	}
	s.last = b
	saved := r.Clone()
	s.saved = &saved
	return nil
}

// LoadRecord reads the ownership record at path, for inspection tools.
func LoadRecord(path string) (Record, error) {
	s := OwnershipStore{Path: path}
	return s.Load()
}

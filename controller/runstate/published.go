package runstate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvsjson"
)

// DesiredFileName is the file, next to the ownership record, where the
// reconciler publishes the desired state it last worked towards, so that
// `ipvsd list --drift` can compare it with the kernel without talking to
// the daemon.
const DesiredFileName = "desired.json"

// DesiredPath returns where a reconciler whose ownership record is at
// recordPath publishes its desired state ("" for an in-memory record).
func DesiredPath(recordPath string) string {
	if recordPath == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(recordPath), DesiredFileName)
}

// DesiredStore publishes the validated desired virtual servers. The file
// holds a virtual server per line, in key order, and the store encodes only
// the virtual servers that changed since it last wrote it, copying every
// other line from the file it wrote before: a one-service change costs one
// service's encoding and a copy of the file (a reflective encoding of the
// whole table was a third of ipvsd run's CPU per change at 1,000
// Services: issue 15), and a steady state costs no I/O. The encodings are
// not kept in memory: at 10,000 Services x 10 endpoints they were 7 MB of
// the daemon's heap, and the page cache holds the file anyway.
type DesiredStore struct {
	Path string
	// pub is the value each virtual server in the file was encoded from
	// (or is to be, if in stale); keys are pub's keys in key order, kept
	// as services come and go, since sorting 10,000 keys at every write
	// was most of a change's CPU.
	pub  map[ipvs.Key]*desired.VirtualServer
	keys []ipvs.Key
	// stale are the virtual servers whose line in the file is not their
	// value (added or changed since the last write).
	stale map[ipvs.Key]bool
	// inFile are the keys of the file's lines as last written, and file
	// that file's identity; a file not as written (replaced, edited, never
	// written) is not copied from.
	inFile  []ipvs.Key
	file    os.FileInfo
	rd      *bufio.Reader // reused for the copying
	written bool
	encodes int // virtual servers encoded, for tests of the cost
}

// Publish writes want, the whole state, atomically unless it equals what
// was last written: PublishChanges of want and of what it no longer holds.
// A failed write is retried by the next call.
func (s *DesiredStore) Publish(want map[ipvs.Key]*desired.VirtualServer) error {
	changes := make(map[ipvs.Key]*desired.VirtualServer, len(want))
	maps.Copy(changes, want)
	for k := range s.pub {
		if _, ok := want[k]; !ok {
			changes[k] = nil
		}
	}
	return s.PublishChanges(changes)
}

// PublishChanges is Publish given only what changed since the last call:
// each changed virtual server's value, nil for one no longer desired. The
// caller then hands over O(change) rather than a copy of the whole state:
// at 10,000 Services that copy was a map of 10,000 entries per write,
// made in the sync, whose garbage the collector then made that sync pay
// for (issue 15). A failed write is retried by the next call, with
// what it noted kept.
func (s *DesiredStore) PublishChanges(changes map[ipvs.Key]*desired.VirtualServer) error {
	if s.Path == "" {
		return nil
	}
	s.init()
	changed := false
	for k, vs := range changes {
		if vs == nil {
			changed = s.drop(k) || changed
		} else {
			changed = s.put(k, vs) || changed
		}
	}
	if !changed && s.written {
		return nil
	}
	return s.write()
}

// write writes the file from pub, copying what is not stale.
func (s *DesiredStore) write() error {
	s.written = false
	err := writeFileAtomicFunc(s.Path, s.writeFile)
	if errors.Is(err, errFileNotAsWritten) {
		// Changed under us while copied from: encode every line.
		s.file = nil
		err = writeFileAtomicFunc(s.Path, s.writeFile)
	}
	if err != nil {
		return fmt.Errorf("publishing desired state: %w", err)
	}
	s.written, s.inFile, s.stale = true, append(s.inFile[:0], s.keys...), nil
	if s.file, err = os.Stat(s.Path); err != nil {
		s.file = nil // encoded whole next time; the file is written
	}
	return nil
}

func (s *DesiredStore) init() {
	if s.pub == nil {
		s.pub = map[ipvs.Key]*desired.VirtualServer{}
	}
	if s.stale == nil {
		s.stale = map[ipvs.Key]bool{}
	}
}

// drop takes k out of what is published.
func (s *DesiredStore) drop(k ipvs.Key) bool {
	if _, had := s.pub[k]; !had {
		return false
	}
	delete(s.pub, k)
	delete(s.stale, k)
	if i, found := slices.BinarySearchFunc(s.keys, k, ipvs.Key.Compare); found {
		s.keys = slices.Delete(s.keys, i, i+1)
	}
	return true
}

// put makes vs k's published value, stale until written, if it differs.
func (s *DesiredStore) put(k ipvs.Key, vs *desired.VirtualServer) bool {
	old, had := s.pub[k]
	if had && (old == vs || desired.EqualNormalized(old, vs)) {
		return false
	}
	if !had {
		i, _ := slices.BinarySearchFunc(s.keys, k, ipvs.Key.Compare)
		s.keys = slices.Insert(s.keys, i, k)
	}
	s.pub[k], s.stale[k] = vs, true
	return true
}

// errFileNotAsWritten: the file copied from ended early or was replaced.
var errFileNotAsWritten = errors.New("the desired state file is not as ipvsd wrote it")

// writeFile writes the whole file: what json.Marshal(desiredFile) would
// print, the services in key order, with a newline before each service
// and before the closing bracket so that the file diffs a service per
// line. Lines of services not stale are copied from the old file.
func (s *DesiredStore) writeFile(w io.Writer) error {
	old, closeOld := s.openAsWritten()
	defer closeOld()
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, desiredHeader, desiredVersion)
	j := 0 // the next line of old, a service of inFile
	for i, k := range s.keys {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		var line []byte
		if old != nil {
			var err error
			if line, j, err = s.lineOf(old, k, j); err != nil {
				return err
			}
		}
		if line == nil || s.stale[k] {
			b, err := json.Marshal(encodeService(k, s.pub[k]))
			if err != nil {
				return fmt.Errorf("encoding virtual server %s: %w", k, err)
			}
			line = b
			s.encodes++
		}
		bw.Write(line)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// desiredHeader is the file's first line.
const desiredHeader = "{\"version\":%d,\"services\":["

// openAsWritten opens the file for copying from if it is the one last
// written, and skips its header line; nil if not.
func (s *DesiredStore) openAsWritten() (*bufio.Reader, func()) {
	if s.file == nil {
		return nil, func() {}
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, func() {}
	}
	fi, err := f.Stat()
	if err != nil || !os.SameFile(fi, s.file) || fi.Size() != s.file.Size() || !fi.ModTime().Equal(s.file.ModTime()) {
		f.Close()
		return nil, func() {}
	}
	if s.rd == nil {
		s.rd = bufio.NewReaderSize(f, 64<<10)
	}
	r := s.rd
	r.Reset(f)
	if _, err := r.ReadSlice('\n'); err != nil {
		f.Close()
		return nil, func() {}
	}
	return r, func() { f.Close() }
}

// lineOf returns k's encoding from the old file, whose next line is that
// of inFile[j], and the index of the line after it; nil when k has no line
// there or its line does not fit the reader's buffer (it is encoded
// instead). The slice is valid until the next read.
func (s *DesiredStore) lineOf(old *bufio.Reader, k ipvs.Key, j int) ([]byte, int, error) {
	for ; j < len(s.inFile) && s.inFile[j].Compare(k) <= 0; j++ {
		line, err := old.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = old.ReadSlice('\n')
		}
		if err != nil {
			return nil, j, fmt.Errorf("%w: %w", errFileNotAsWritten, err)
		}
		if s.inFile[j] == k && !full {
			return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte(",")), j + 1, nil
		}
	}
	return nil, j, nil
}

// desiredFile is the on-disk form: services in key order, real servers in
// address order, so the file is stable and diffable. Services are the
// shape `ipvsd list -o json` prints, without the kernel's counters.
type desiredFile struct {
	Version  int                `json:"version"`
	Services []ipvsjson.Service `json:"services"`
}

// desiredVersion is still 1: the shared shape carries every field the
// first encoding did, meaning the same, and the family is read in either
// spelling (a number then, a name now). Only `ipvsd list --drift` reads
// the file, and a daemon rewrites it at its first sync, so an older ipvsd
// rolled back to would meet the new spelling for one sync at most.
const desiredVersion = 1

// encodeService is vs in the file's shape, published under k.
func encodeService(k ipvs.Key, vs *desired.VirtualServer) ipvsjson.Service {
	s := ipvsjson.FromService(vs.Service)
	s.Key = ipvsjson.FromKey(k) // the key it is published under
	s.Owner, s.Destinations = vs.Owner, []ipvsjson.Destination{}
	for _, d := range vs.Destinations {
		s.Destinations = append(s.Destinations, ipvsjson.FromDestination(d))
	}
	return s
}

// LoadDesired reads the desired state a reconciler published at path
// (see DesiredPath), for inspection tools. A missing file is reported as
// an error wrapping fs.ErrNotExist: no daemon has published one since boot.
func LoadDesired(path string) ([]desired.VirtualServer, error) {
	b, err := readRunFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading desired state: %w", err)
	}
	vss, err := unmarshalDesired(b)
	if err != nil {
		return nil, fmt.Errorf("parsing desired state %s: %w", path, err)
	}
	return vss, nil
}

func unmarshalDesired(b []byte) ([]desired.VirtualServer, error) {
	var f desiredFile
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		return nil, err
	}
	if f.Version != desiredVersion {
		return nil, fmt.Errorf("unsupported version %d", f.Version)
	}
	out := make([]desired.VirtualServer, 0, len(f.Services))
	var errs []error
	for _, s := range f.Services {
		k, err := s.Key.IPVS()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vs := desired.VirtualServer{Owner: s.Owner, Service: ipvs.Service{Key: k}}
		if s.Scheduling != nil {
			vs.Service, err = s.Scheduling.IPVS(k)
			errs = append(errs, err)
		}
		for _, d := range s.Destinations {
			dst, err := d.IPVS()
			if err != nil {
				errs = append(errs, fmt.Errorf("virtual server %s: real server %s: %w", k, d.Address, err))
				continue
			}
			vs.Destinations = append(vs.Destinations, dst)
		}
		out = append(out, vs)
	}
	return out, errors.Join(errs...)
}

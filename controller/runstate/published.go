package runstate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// DesiredStore publishes the validated desired virtual servers. It keeps
// each virtual server's encoding from the last write and encodes again
// only those that changed, so a one-service change costs one service's
// encoding plus copying the others' bytes (not a reflective encoding of
// the whole table, which was a third of ipvsd run's CPU per change at
// 1,000 Services: issue 15), and a steady state costs no I/O. The kept
// encodings are compact, and indented only as the file is streamed out:
// indented, they were the largest part of ipvsd run's heap at 10,000
// Services x 10 endpoints (33 MB), and the whole file was built in one
// buffer of as much again at each write.
type DesiredStore struct {
	Path string
	enc  map[ipvs.Key]encodedService
	// keys are enc's, in key order: kept as services come and go, since
	// sorting 10,000 keys at every write was most of a change's CPU.
	keys []ipvs.Key
	// written: enc is what the file holds.
	written bool
	encodes int // virtual servers encoded, for tests of the cost
}

// encodedService is one virtual server and its encoding in the file.
type encodedService struct {
	vs *desired.VirtualServer
	b  []byte
}

// Publish writes want atomically unless it equals what was last written.
// A failed write is retried by the next sync.
func (s *DesiredStore) Publish(want map[ipvs.Key]*desired.VirtualServer) error {
	if s.Path == "" {
		return nil
	}
	changed, err := s.encode(want)
	if err != nil {
		return fmt.Errorf("encoding desired state: %w", err)
	}
	if s.written && !changed {
		return nil
	}
	s.written = false
	if err := writeFileAtomicFunc(s.Path, s.writeFile); err != nil {
		return fmt.Errorf("publishing desired state: %w", err)
	}
	s.written = true
	return nil
}

// encode brings enc to want and reports whether anything changed. A
// virtual server is encoded again only when it is another value: the
// same pointer is the same value, since the reconciler replaces what a
// change sets.
func (s *DesiredStore) encode(want map[ipvs.Key]*desired.VirtualServer) (bool, error) {
	if s.enc == nil {
		s.enc = map[ipvs.Key]encodedService{}
	}
	changed := false
	for k := range s.enc {
		if _, ok := want[k]; !ok {
			delete(s.enc, k)
			if i, found := slices.BinarySearchFunc(s.keys, k, ipvs.Key.Compare); found {
				s.keys = slices.Delete(s.keys, i, i+1)
			}
			changed = true
		}
	}
	for k, vs := range want {
		if e, ok := s.enc[k]; ok && (e.vs == vs || desired.EqualNormalized(e.vs, vs)) {
			continue
		}
		b, err := json.Marshal(encodeService(k, vs))
		if err != nil {
			return changed, fmt.Errorf("virtual server %s: %w", k, err)
		}
		if _, had := s.enc[k]; !had {
			i, _ := slices.BinarySearchFunc(s.keys, k, ipvs.Key.Compare)
			s.keys = slices.Insert(s.keys, i, k)
		}
		s.enc[k] = encodedService{vs: vs, b: b}
		s.encodes++
		changed = true
	}
	return changed, nil
}

// writeFile writes the whole file from enc: what json.Marshal(desiredFile)
// would print, the services in key order, with a newline before each
// service and before the closing bracket so that the file diffs a service
// per line. The kept encodings are copied as they are: indenting them
// (json.Indent re-scans every byte) made each change at 10,000 Services
// cost seconds of CPU under emulation, for a file only ipvsd reads.
func (s *DesiredStore) writeFile(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "{\"version\":%d,\"services\":[", desiredVersion)
	for i, k := range s.keys {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(s.enc[k].b)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
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

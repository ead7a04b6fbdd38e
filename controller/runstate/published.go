package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
// what it last wrote and rewrites the file only when that changed, so a
// steady state costs one comparison per sync and no I/O.
type DesiredStore struct {
	Path string
	last map[ipvs.Key]*desired.VirtualServer
}

// Publish writes want atomically unless it equals what was last written.
// A failed write is retried by the next sync.
func (s *DesiredStore) Publish(want map[ipvs.Key]*desired.VirtualServer) error {
	if s.Path == "" || (s.last != nil && maps.EqualFunc(s.last, want, desired.EqualNormalized)) {
		return nil
	}
	b, err := marshalDesired(want)
	if err != nil {
		return fmt.Errorf("encoding desired state: %w", err)
	}
	if err := writeFileAtomic(s.Path, b); err != nil {
		return fmt.Errorf("publishing desired state: %w", err)
	}
	s.last = maps.Clone(want)
	return nil
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

func marshalDesired(want map[ipvs.Key]*desired.VirtualServer) ([]byte, error) {
	f := desiredFile{Version: desiredVersion, Services: []ipvsjson.Service{}}
	for _, k := range slices.SortedFunc(maps.Keys(want), ipvs.Key.Compare) {
		vs := want[k]
		s := ipvsjson.FromService(vs.Service)
		s.Key = ipvsjson.FromKey(k) // the key it is published under
		s.Owner, s.Destinations = vs.Owner, []ipvsjson.Destination{}
		for _, d := range vs.Destinations {
			s.Destinations = append(s.Destinations, ipvsjson.FromDestination(d))
		}
		f.Services = append(f.Services, s)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
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

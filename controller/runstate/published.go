package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
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
// address order, so the file is stable and diffable.
type desiredFile struct {
	Version  int              `json:"version"`
	Services []desiredService `json:"services"`
}

type desiredService struct {
	recordService
	Scheduler    string        `json:"scheduler"`
	Flags        []string      `json:"flags,omitempty"`
	Timeout      uint32        `json:"timeout,omitempty"`
	Netmask      uint8         `json:"netmask,omitempty"`
	PEName       string        `json:"pe,omitempty"`
	Destinations []desiredDest `json:"destinations"`
}

type desiredDest struct {
	Address        netip.Addr `json:"address"`
	Port           uint16     `json:"port"`
	Weight         int        `json:"weight"`
	Forwarding     string     `json:"forwarding"`
	UpperThreshold uint32     `json:"upperThreshold,omitempty"`
	LowerThreshold uint32     `json:"lowerThreshold,omitempty"`
}

const desiredVersion = 1

func marshalDesired(want map[ipvs.Key]*desired.VirtualServer) ([]byte, error) {
	f := desiredFile{Version: desiredVersion, Services: []desiredService{}}
	for _, k := range slices.SortedFunc(maps.Keys(want), ipvs.Key.Compare) {
		vs := want[k]
		ds := desiredService{
			recordService: recordService{Family: uint8(k.Family), Address: k.Address, Port: k.Port, FWMark: k.FWMark, Owner: vs.Owner},
			Scheduler:     vs.Scheduler, Timeout: vs.Timeout, Netmask: vs.Netmask, PEName: vs.PEName,
			Destinations: []desiredDest{},
		}
		if !k.IsFWMark() {
			ds.Protocol = k.Protocol.String()
		}
		ds.Flags = vs.Flags.Names()
		for _, d := range vs.Destinations {
			ds.Destinations = append(ds.Destinations, desiredDest{
				Address: d.Address, Port: d.Port, Weight: d.Weight, Forwarding: d.Forwarding.String(),
				UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
			})
		}
		f.Services = append(f.Services, ds)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

// LoadDesired reads the desired state a reconciler published at path
// (see DesiredPath), for inspection tools. A missing file is reported as
// an error wrapping fs.ErrNotExist: no daemon has published one since boot.
func LoadDesired(path string) ([]desired.VirtualServer, error) {
	b, err := os.ReadFile(path)
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
		vs := desired.VirtualServer{Owner: s.Owner, Service: ipvs.Service{
			Key:       ipvs.Key{Family: ipvs.Family(s.Family), Address: s.Address, Port: s.Port, FWMark: s.FWMark},
			Scheduler: s.Scheduler, Timeout: s.Timeout, Netmask: s.Netmask, PEName: s.PEName,
		}}
		if s.FWMark == 0 {
			p, err := ipvs.ParseProtocol(s.Protocol)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			vs.Protocol = p
		}
		for _, n := range s.Flags {
			f, ok := ipvs.ParseFlagName(n)
			if !ok {
				errs = append(errs, fmt.Errorf("virtual server %s: unknown flag %q", vs.Key, n))
				continue
			}
			vs.Flags |= f
		}
		for _, d := range s.Destinations {
			fwd, err := ipvs.ParseForwarding(d.Forwarding)
			if err != nil {
				errs = append(errs, fmt.Errorf("virtual server %s: real server %s: %w", vs.Key, d.Address, err))
				continue
			}
			vs.Destinations = append(vs.Destinations, ipvs.Destination{
				DestKey: ipvs.DestKey{Address: d.Address, Port: d.Port}, Weight: d.Weight, Forwarding: fwd,
				UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
			})
		}
		out = append(out, vs)
	}
	return out, errors.Join(errs...)
}

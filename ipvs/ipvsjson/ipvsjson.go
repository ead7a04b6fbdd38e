// Package ipvsjson is the one JSON shape of a virtual server and its real
// servers: `ipvsd list -o json|yaml` prints it, the published desired
// state (/run/ipvsd/desired.json) is written in it, and the ownership
// record (/run/ipvsd/state.json) is read with it, so a script that reads
// one reads the others. (The record is still written in its first
// spelling, family as a number; see runstate.)
//
// Each document fills only what it knows: the ownership record the key,
// owner and the scheduling parameters ipvsd wrote (none in records of
// earlier versions), the desired state real servers too, a listing the
// kernel's counters as well. Fields a
// document leaves unset are absent from its encoding.
package ipvsjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Service is one virtual server.
type Service struct {
	Key
	// Scheduling is nil in a listing of keys only, and in ownership
	// records of earlier versions, which named services without it.
	*Scheduling
	// Owner labels where the service comes from (see desired.VirtualServer).
	Owner string `json:"owner,omitempty"`
	// Foreign marks, in a listing with owners, a service ipvsd did not
	// create.
	Foreign bool `json:"foreign,omitempty"`
	// Stats are the kernel's counters: a listing has them.
	Stats *Stats `json:"stats,omitempty"`
	// Destinations are nil in the ownership record (and then absent); the
	// other documents always list them, if only as [].
	Destinations []Destination `json:"destinations,omitzero"`
}

// Key identifies a virtual server, as ipvs.Key does.
type Key struct {
	Family   Family     `json:"family"`
	Protocol string     `json:"protocol,omitempty"` // ipvs.Protocol's name; absent for a fwmark
	Address  netip.Addr `json:"address,omitzero"`
	Port     uint16     `json:"port,omitempty"`
	FWMark   uint32     `json:"fwmark,omitempty"`
}

// Scheduling are a virtual server's scheduling parameters, as in
// ipvs.Service.
type Scheduling struct {
	Scheduler string   `json:"scheduler"`
	Flags     []string `json:"flags,omitempty"` // ipvs.Flags.Names
	Timeout   uint32   `json:"timeout,omitempty"`
	Netmask   uint8    `json:"netmask,omitempty"`
	PEName    string   `json:"pe,omitempty"`
}

// Destination is one real server.
type Destination struct {
	Address        netip.Addr `json:"address"`
	Port           uint16     `json:"port"`
	Forwarding     string     `json:"forwarding"` // ipvs.Forwarding's name
	Weight         int        `json:"weight"`
	UpperThreshold uint32     `json:"upperThreshold"`
	LowerThreshold uint32     `json:"lowerThreshold"`
	// Conns is what the kernel counts for the real server: a listing has
	// it.
	*Conns
}

// Conns are a real server's connection counts and counters.
type Conns struct {
	ActiveConns   uint32 `json:"activeConns"`
	InactiveConns uint32 `json:"inactiveConns"`
	PersistConns  uint32 `json:"persistConns"`
	Stats         Stats  `json:"stats"`
}

// Stats are ipvs.Stats, every counter an exact 64-bit integer.
type Stats struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inPkts"`
	OutPkts  uint64 `json:"outPkts"`
	InBytes  uint64 `json:"inBytes"`
	OutBytes uint64 `json:"outBytes"`
	CPS      uint64 `json:"cps"`
	InPPS    uint64 `json:"inPPS"`
	OutPPS   uint64 `json:"outPPS"`
	InBPS    uint64 `json:"inBPS"`
	OutBPS   uint64 `json:"outBPS"`
}

// Family is written by name ("IPv4", "IPv6"). Version-1 files under
// /run/ipvsd spelled it as the number (4, 6); that is read too, so a
// daemon upgraded in place still adopts what its predecessor recorded.
type Family ipvs.Family

func (f Family) MarshalJSON() ([]byte, error) { return json.Marshal(ipvs.Family(f).String()) }

func (f *Family) UnmarshalJSON(b []byte) error {
	var n uint8
	if err := json.Unmarshal(b, &n); err == nil {
		*f = Family(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("family %s: want IPv4, IPv6 or a number", b)
	}
	for _, known := range []ipvs.Family{ipvs.IPv4, ipvs.IPv6} {
		if s == known.String() {
			*f = Family(known)
			return nil
		}
	}
	return fmt.Errorf("unknown family %q (want IPv4 or IPv6)", s)
}

// FromKey is k's JSON form.
func FromKey(k ipvs.Key) Key {
	j := Key{Family: Family(k.Family), Address: k.Address, Port: k.Port, FWMark: k.FWMark}
	if !k.IsFWMark() {
		j.Protocol = k.Protocol.String()
	}
	return j
}

// IPVS is the key k stands for.
func (k Key) IPVS() (ipvs.Key, error) {
	out := ipvs.Key{Family: ipvs.Family(k.Family), Address: k.Address, Port: k.Port, FWMark: k.FWMark}
	if k.FWMark == 0 {
		p, err := ipvs.ParseProtocol(k.Protocol)
		if err != nil {
			return ipvs.Key{}, err
		}
		out.Protocol = p
	}
	return out, nil
}

// FromService is s's key and scheduling parameters; owner, stats and real
// servers are the caller's to add.
func FromService(s ipvs.Service) Service {
	return Service{Key: FromKey(s.Key), Scheduling: &Scheduling{
		Scheduler: s.Scheduler, Flags: s.Flags.Names(), Timeout: s.Timeout, Netmask: s.Netmask, PEName: s.PEName,
	}}
}

// IPVS is the virtual server k with p's parameters. Unknown flag names
// are reported, joined, and left out; the rest is still returned.
func (p Scheduling) IPVS(k ipvs.Key) (ipvs.Service, error) {
	s := ipvs.Service{Key: k, Scheduler: p.Scheduler, Timeout: p.Timeout, Netmask: p.Netmask, PEName: p.PEName}
	var errs []error
	for _, n := range p.Flags {
		f, ok := ipvs.ParseFlagName(n)
		if !ok {
			errs = append(errs, fmt.Errorf("virtual server %s: unknown flag %q", k, n))
			continue
		}
		s.Flags |= f
	}
	return s, errors.Join(errs...)
}

// FromDestination is d without its counters; a listing adds them with
// FromConns.
func FromDestination(d ipvs.Destination) Destination {
	return Destination{
		Address: d.Address, Port: d.Port, Forwarding: d.Forwarding.String(), Weight: d.Weight,
		UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
	}
}

// FromConns is what the kernel counts for d.
func FromConns(d ipvs.DestinationState) *Conns {
	return &Conns{ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, PersistConns: d.PersistConns, Stats: Stats(d.Counters())}
}

// IPVS is the real server d stands for, without counters.
func (d Destination) IPVS() (ipvs.Destination, error) {
	fwd, err := ipvs.ParseForwarding(d.Forwarding)
	if err != nil {
		return ipvs.Destination{}, err
	}
	return ipvs.Destination{
		DestKey: ipvs.DestKey{Address: d.Address, Port: d.Port}, Weight: d.Weight, Forwarding: fwd,
		UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
	}, nil
}

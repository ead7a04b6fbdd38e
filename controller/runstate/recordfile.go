package runstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	k8sjson "sigs.k8s.io/json"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvsjson"
)

// recordFile is the on-disk form: sorted lists, so the file is stable and
// diffable. Services are read one by one as recordEntry, the shared
// shape's key, owner and scheduling parameters, and written as
// recordService.
type recordFile[S recordService | json.RawMessage] struct {
	Version   int          `json:"version"`
	Services  []S          `json:"services"`
	Addresses []netip.Addr `json:"addresses"`
}

// recordService is a service of the shared shape with its key, owner and
// the parameters ipvsd wrote, spelled as the first record was: the family
// as a number, the address before the protocol. Those bytes are pinned
// (the reconciler's tests compare them), and the previous ipvsd, should a
// node roll back to it, reads only them: it ignores the parameters, which
// its reader does not know. Because the reader already takes the shared
// spelling, a later ipvsd can write it without stranding this one.
type recordService struct {
	Family   uint8      `json:"family"`
	Address  netip.Addr `json:"address,omitzero"`
	Protocol string     `json:"protocol,omitempty"`
	Port     uint16     `json:"port,omitempty"`
	FWMark   uint32     `json:"fwmark,omitempty"`
	Owner    string     `json:"owner,omitempty"`
	// Absent in a record written before ipvsd recorded its parameters.
	*ipvsjson.Scheduling
}

// recordEntry is what a record may say of a service, in either spelling
// of the family. Any other field (counters, real servers, a typo) is
// refused by the strict decoder: a record is only ever written by ipvsd,
// so a field it does not write means someone else wrote the file.
type recordEntry struct {
	ipvsjson.Key
	Owner string `json:"owner,omitempty"`
	*ipvsjson.Scheduling
}

const recordVersion = 1

func (r Record) marshal() ([]byte, error) {
	f := recordFile[recordService]{Version: recordVersion, Services: []recordService{}, Addresses: []netip.Addr{}}
	keys := slices.SortedFunc(maps.Keys(r.Services), ipvs.Key.Compare)
	for _, k := range keys {
		j := ipvsjson.FromKey(k)
		s := recordService{
			Family: uint8(j.Family), Address: j.Address, Protocol: j.Protocol, Port: j.Port, FWMark: j.FWMark, Owner: r.Services[k],
		}
		if c, ok := r.Config[k]; ok {
			s.Scheduling = ipvsjson.FromService(c).Scheduling
		}
		f.Services = append(f.Services, s)
	}
	f.Addresses = slices.SortedFunc(maps.Keys(r.Addresses), netip.Addr.Compare)
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

// unmarshalRecord decodes and validates a record. It accepts only what
// ipvsd writes, and reports every fault it finds, each naming its entry:
// the reconciler deletes what the record names, so a record that is
// wrong in any part is not used at all. Entries are decoded one by one so
// that a fault in one does not hide those of the others.
func unmarshalRecord(b []byte) (Record, error) {
	var f recordFile[json.RawMessage]
	if err := decodeStrict(b, &f); err != nil {
		return Record{}, err
	}
	if f.Version != recordVersion {
		return Record{}, fmt.Errorf("unsupported version %d (this ipvsd reads version %d)", f.Version, recordVersion)
	}
	r := NewRecord()
	var errs []error
	where := map[ipvs.Key]int{}
	for i, raw := range f.Services {
		var e recordEntry
		if err := decodeStrict(raw, &e); err != nil {
			errs = append(errs, fmt.Errorf("services[%d]: %w", i, err))
			continue
		}
		k, c, err := e.validate()
		if err != nil {
			errs = append(errs, fmt.Errorf("services[%d] (%s): %w", i, e.describe(), err))
			continue
		}
		if j, dup := where[k]; dup {
			errs = append(errs, fmt.Errorf("services[%d] (%s): the same virtual server as services[%d]", i, k, j))
			continue
		}
		where[k] = i
		r.Services[k] = e.Owner
		if c != nil {
			r.Config[k] = *c
		}
	}
	for i, a := range f.Addresses {
		switch err := checkAddr(a); {
		case err != nil:
			errs = append(errs, fmt.Errorf("addresses[%d] (%s): %w", i, a, err))
		case r.Addresses[a]:
			errs = append(errs, fmt.Errorf("addresses[%d] (%s): listed twice", i, a))
		default:
			r.Addresses[a] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Record{}, err
	}
	return r, nil
}

// decodeStrict decodes b into v case-sensitively, refusing unknown and
// repeated keys (sigs.k8s.io/json, the decoder Kubernetes uses for the
// same purpose), and reports every such key.
func decodeStrict(b []byte, v any) error {
	strict, err := k8sjson.UnmarshalStrict(b, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// validate returns the key e names and the parameters it records (nil
// when it records none), or every reason it is not a virtual server
// ipvsd could have created.
func (e recordEntry) validate() (ipvs.Key, *ipvs.Service, error) {
	var errs []error
	fam := ipvs.Family(e.Family)
	if fam != ipvs.IPv4 && fam != ipvs.IPv6 {
		errs = append(errs, fmt.Errorf("unknown family %d (want 4 or 6)", e.Family))
	}
	if e.FWMark != 0 && e.Protocol != "" {
		errs = append(errs, errors.New("a firewall-mark service has no protocol"))
	}
	k, err := e.Key.IPVS()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return ipvs.Key{}, nil, err
	}
	if err := CheckKey(k); err != nil {
		return ipvs.Key{}, nil, err
	}
	if e.Scheduling == nil {
		return k, nil, nil
	}
	s, err := e.Scheduling.IPVS(k)
	if err == nil {
		err = CheckConfig(s)
	}
	if err != nil {
		return ipvs.Key{}, nil, err
	}
	s = s.Canonical()
	return k, &s, nil
}

// CheckKey reports why a record cannot name k, nil when it can. The
// reconciler asks before it claims a virtual server, so that it never
// writes a record it would refuse to load.
func CheckKey(k ipvs.Key) error {
	if k.IsFWMark() {
		if k.Address.IsValid() || k.Protocol != 0 || k.Port != 0 {
			return errors.New("a firewall-mark service has no address, protocol or port")
		}
		return nil
	}
	if err := checkAddr(k.Address); err != nil {
		return err
	}
	if ipvs.FamilyOf(k.Address) != k.Family {
		return fmt.Errorf("address %s is not %s", k.Address, k.Family)
	}
	switch k.Protocol {
	case ipvs.TCP, ipvs.UDP, ipvs.SCTP:
		return nil
	}
	return fmt.Errorf("unsupported protocol %s", k.Protocol)
}

// checkAddr accepts an address a virtual server or a VIP of ours can
// have, in the form ipvsd writes it.
func checkAddr(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("no address")
	case a.IsUnspecified():
		return fmt.Errorf("unspecified address %s", a)
	case a.Zone() != "":
		return fmt.Errorf("address %s has a zone", a)
	case a.Is4In6():
		return fmt.Errorf("IPv4-mapped address %s (ipvsd writes %s)", a, a.Unmap())
	}
	return nil
}

// nameMax is the longest scheduler or persistence engine name the kernel
// takes (IP_VS_SCHEDNAME_MAXLEN and IP_VS_PENAME_MAXLEN are 16, with the
// terminating NUL).
const nameMax = 15

// CheckConfig reports why a record cannot hold s's parameters, nil when
// it can: names the kernel could not know, a netmask longer than the
// family's addresses.
func CheckConfig(s ipvs.Service) error {
	var errs []error
	if !isName(s.Scheduler) {
		errs = append(errs, fmt.Errorf("scheduler %q is not a scheduler name", s.Scheduler))
	}
	if s.PEName != "" && !isName(s.PEName) {
		errs = append(errs, fmt.Errorf("persistence engine %q is not an engine name", s.PEName))
	}
	full := uint8(32)
	if s.Family == ipvs.IPv6 {
		full = 128
	}
	if s.Netmask > full {
		errs = append(errs, fmt.Errorf("netmask /%d is too long for %s", s.Netmask, s.Family))
	}
	return errors.Join(errs...)
}

// isName accepts what the kernel's schedulers and engines are called
// (rr, wlc, twos, sip): lower-case letters, digits, '_' and '-'.
func isName(s string) bool {
	return s != "" && len(s) <= nameMax && !strings.ContainsFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-'
	})
}

// describe names e as well as its fields allow, for an error about it.
func (e recordEntry) describe() string {
	if e.FWMark != 0 {
		return fmt.Sprintf("FWM %d family %d", e.FWMark, e.Family)
	}
	return fmt.Sprintf("%s %s family %d", e.Protocol, netip.AddrPortFrom(e.Address, e.Port), e.Family)
}

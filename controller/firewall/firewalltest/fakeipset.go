package firewalltest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/firewall"
)

// setDims are the components of each hash type's elements.
var setDims = map[firewall.SetType][]string{
	firewall.HashIP:        {"ip"},
	firewall.HashNet:       {"net"},
	firewall.HashIPPort:    {"ip", "port"},
	firewall.HashNetPort:   {"net", "port"},
	firewall.HashIPPortIP:  {"ip", "port", "ip"},
	firewall.HashIPPortNet: {"ip", "port", "net"},
	// kube-proxy's node-port sets; Firewall creates none.
	bitmapPort: {"bareport"},
}

// bitmapPort is ipset's port bitmap: its elements are bare port numbers,
// printed as given, and its range is fixed at create.
const bitmapPort firewall.SetType = "bitmap:port"

// ipset defaults, as `ipset save` prints them.
const (
	defaultHashSize = 1024
	defaultMaxElem  = 65536
)

type ipset struct {
	name              string
	typ               firewall.SetType
	family            string // inet or inet6
	hashsize, maxelem int
	skbinfo           bool
	portRange         string // bitmap:port only
	// entries maps each element, as ipset prints it, to its extensions
	// (" skbmark 0x1/0xbfff" or "").
	entries map[string]string
}

// sameCreate reports whether two creates ask for the same set: with
// -exist, ipset accepts that and refuses any other create of the name.
func (s *ipset) sameCreate(o *ipset) bool {
	return s.typ == o.typ && s.family == o.family && s.hashsize == o.hashsize && s.maxelem == o.maxelem && s.skbinfo == o.skbinfo
}

func (s *ipset) save(b *strings.Builder) {
	opts := ""
	if s.skbinfo {
		opts = " skbinfo"
	}
	if s.typ == bitmapPort {
		fmt.Fprintf(b, "create %s %s range %s\n", s.name, s.typ, s.portRange)
	} else {
		fmt.Fprintf(b, "create %s %s family %s hashsize %d maxelem %d%s bucketsize 12 initval 0x00000000\n",
			s.name, s.typ, s.family, s.hashsize, s.maxelem, opts)
	}
	elems := make([]string, 0, len(s.entries))
	for e := range s.entries {
		elems = append(elems, e)
	}
	slices.Sort(elems)
	for _, e := range elems {
		b.WriteString("add " + s.name + " " + e + s.entries[e] + "\n")
	}
}

// findSet is the set named name, or nil. h.mu is held.
func (h *Host) findSet(name string) *ipset {
	for _, s := range h.sets {
		if s != nil && s.name == name {
			return s
		}
	}
	return nil
}

// IPSet is the Host's ipset. It implements firewall.IPSet.
type IPSet struct{ h *Host }

// IPSet is the Host's ipset tool.
func (h *Host) IPSet() *IPSet { return &IPSet{h} }

// Names lists every set, as `ipset list -n` does (in index order).
func (s *IPSet) Names(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	var out []string
	for _, set := range s.h.sets {
		if set != nil {
			out = append(out, set.name)
		}
	}
	return out, nil
}

// Save prints the named sets as `ipset save` does, entries sorted.
func (s *IPSet) Save(ctx context.Context, names []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	var b strings.Builder
	for i, n := range names {
		set := s.h.findSet(n)
		if set == nil {
			return "", &LineError{Tool: "ipset", Line: i + 1, Text: "list " + n + " -o save",
				Err: errorf(unix.ENOENT, "the set with the given name does not exist")}
		}
		set.save(&b)
	}
	return b.String(), nil
}

// SaveAll prints every set, as `ipset save` does.
func (s *IPSet) SaveAll() string {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	var b strings.Builder
	for _, set := range s.h.sets {
		if set != nil {
			set.save(&b)
		}
	}
	return b.String()
}

// Restore runs script as `ipset restore -exist` does.
func (s *IPSet) Restore(ctx context.Context, script string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Script(script, true)
}

// Script runs script as `ipset restore` does, with -exist if exist: adding
// an existing entry (which then takes the new extensions), deleting a
// missing one, destroying a missing set and creating an identical one are
// then not errors. Lines before a failing one stay applied.
func (s *IPSet) Script(script string, exist bool) error {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, line := range strings.Split(script, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		err := h.injected(line)
		if err == nil {
			err = h.setCommand(f, exist)
		}
		if err != nil {
			return &LineError{Tool: "ipset", Line: i + 1, Text: strings.TrimSpace(line), Err: err}
		}
	}
	return nil
}

// setCommand applies one create, add, del, flush or destroy. h.mu is held.
func (h *Host) setCommand(f []string, exist bool) error {
	if len(f) < 2 {
		return errorf(unix.EINVAL, "syntax error: missing set name")
	}
	op, name := f[0], f[1]
	set := h.findSet(name)
	switch op {
	case "create":
		n, err := parseCreate(f)
		if err != nil {
			return err
		}
		if set != nil {
			if exist && set.sameCreate(n) {
				return nil
			}
			return errorf(unix.EEXIST, "set cannot be created: set with the same name already exists")
		}
		if i := slices.Index(h.sets, nil); i >= 0 {
			h.sets[i] = n
		} else {
			h.sets = append(h.sets, n)
		}
		return nil
	case "destroy":
		switch {
		case set == nil && exist:
			return nil
		case set == nil:
			return errorf(unix.ENOENT, "the set with the given name does not exist")
		case h.setInUse(name):
			return errorf(unix.EBUSY, "set cannot be destroyed: it is in use by a kernel component")
		}
		h.sets[slices.Index(h.sets, set)] = nil
		return nil
	}
	if set == nil {
		return errorf(unix.ENOENT, "the set with the given name does not exist")
	}
	switch op {
	case "flush":
		clear(set.entries)
		return nil
	case "add", "del":
	default:
		return errorf(unix.EINVAL, "syntax error: unknown command %s", op)
	}
	if len(f) < 3 {
		return errorf(unix.EINVAL, "syntax error: missing element")
	}
	elem, err := parseElement(set, f[2])
	if err != nil {
		return err
	}
	ext, err := parseExtensions(set, op, f[3:])
	if err != nil {
		return err
	}
	_, present := set.entries[elem]
	if op == "del" {
		switch {
		case present:
			delete(set.entries, elem)
		case !exist:
			return errorf(unix.ENOENT, "element cannot be deleted from the set: it's not added")
		}
		return nil
	}
	switch {
	case present && !exist:
		return errorf(unix.EEXIST, "element cannot be added to the set: it's already added")
	case !present && len(set.entries) >= set.maxelem:
		return errorf(unix.ENOSPC, "hash is full, cannot add more elements")
	}
	set.entries[elem] = ext
	return nil
}

func parseCreate(f []string) (*ipset, error) {
	if len(f) < 3 {
		return nil, errorf(unix.EINVAL, "syntax error: missing set type")
	}
	s := &ipset{name: f[1], typ: firewall.SetType(f[2]), family: "inet",
		hashsize: defaultHashSize, maxelem: defaultMaxElem, entries: map[string]string{}}
	// IPSET_MAXNAMELEN counts the NUL.
	if len(s.name) > 31 {
		return nil, errorf(unix.EINVAL, "syntax error: setname '%s' is longer than 31 characters", s.name)
	}
	if setDims[s.typ] == nil {
		return nil, errorf(unix.EINVAL, "syntax error: typename '%s' is unknown", s.typ)
	}
	for i := 3; i < len(f); i++ {
		opt := f[i]
		if opt == "skbinfo" {
			s.skbinfo = true
			continue
		}
		if i+1 >= len(f) {
			return nil, errorf(unix.EINVAL, "syntax error: option %s needs a value", opt)
		}
		val := f[i+1]
		i++
		var err error
		switch opt {
		case "family":
			if val != "inet" && val != "inet6" {
				err = errorf(unix.EINVAL, "syntax error: unknown family %s", val)
			}
			s.family = val
		case "hashsize":
			s.hashsize, err = strconv.Atoi(val)
		case "maxelem":
			s.maxelem, err = strconv.Atoi(val)
		case "range":
			s.portRange = val
		case "bucketsize", "initval":
			// Printed by ipset save; not modelled.
		default:
			err = errorf(unix.EINVAL, "syntax error: unknown argument %s", opt)
		}
		if err != nil {
			return nil, errorf(unix.EINVAL, "syntax error: %s %s: %v", opt, val, err)
		}
	}
	return s, nil
}

// parseElement checks an element against the set's type and family and
// prints it as ipset does: networks masked, a host without its /len, a
// bare port as tcp.
func parseElement(s *ipset, elem string) (string, error) {
	parts := strings.Split(elem, ",")
	dims := setDims[s.typ]
	if len(parts) != len(dims) {
		return "", errorf(unix.EINVAL, "syntax error: element %s does not fit settype %s", elem, s.typ)
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		var err error
		switch dims[i] {
		case "ip", "net":
			out[i], err = parseAddr(s, dims[i] == "net", p)
		case "port":
			out[i], err = parsePort(p)
		case "bareport":
			var n uint64
			n, err = strconv.ParseUint(p, 10, 16)
			out[i] = strconv.FormatUint(n, 10)
			if err != nil {
				err = errorf(unix.EINVAL, "syntax error: invalid port %s", p)
			}
		}
		if err != nil {
			return "", err
		}
	}
	return strings.Join(out, ","), nil
}

func parseAddr(s *ipset, isNet bool, text string) (string, error) {
	pfx, err := netip.ParsePrefix(text)
	if !strings.Contains(text, "/") {
		var a netip.Addr
		a, err = netip.ParseAddr(text)
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if err != nil {
		return "", errorf(unix.EINVAL, "syntax error: cannot parse %s as an address: %v", text, err)
	}
	a := pfx.Addr()
	if (s.family == "inet") != a.Is4() || a.Is4In6() {
		return "", errorf(unix.EINVAL, "syntax error: %s is not a %s address", text, s.family)
	}
	switch {
	case pfx.Bits() == a.BitLen():
		return a.String(), nil
	case !isNet:
		// hash:ip adds every address of a range; Firewall never asks.
		return "", errorf(unix.EINVAL, "fake: ranges in %s are not modelled", s.typ)
	case pfx.Bits() == 0:
		return "", errorf(unix.EINVAL, "the value of the CIDR parameter of the IP address is invalid")
	}
	return pfx.Masked().String(), nil
}

func parsePort(text string) (string, error) {
	proto, port, ok := strings.Cut(text, ":")
	if !ok {
		proto, port = "tcp", text
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp", "udplite":
	default:
		return "", errorf(unix.EINVAL, "syntax error: invalid protocol %s", proto)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", errorf(unix.EINVAL, "syntax error: invalid port %s", port)
	}
	return proto + ":" + strconv.FormatUint(n, 10), nil
}

// parseExtensions reads "skbmark VALUE[/MASK]", the only extension Firewall
// uses, allowed on add to a set created with skbinfo.
func parseExtensions(s *ipset, op string, f []string) (string, error) {
	if len(f) == 0 {
		return "", nil
	}
	if op != "add" || !s.skbinfo || len(f) != 2 || f[0] != "skbmark" {
		return "", errorf(unix.EINVAL, "syntax error: unexpected %q for %s %s", strings.Join(f, " "), op, s.name)
	}
	v, m, hasMask := strings.Cut(f[1], "/")
	mark, err := strconv.ParseUint(v, 0, 32)
	mask := uint64(0xffffffff)
	if err == nil && hasMask {
		mask, err = strconv.ParseUint(m, 0, 32)
	}
	if err != nil {
		return "", errorf(unix.EINVAL, "syntax error: bad skbmark %s", f[1])
	}
	if mask == 0xffffffff {
		return fmt.Sprintf(" skbmark %#x", mark), nil
	}
	return fmt.Sprintf(" skbmark %#x/%#x", mark, mask), nil
}

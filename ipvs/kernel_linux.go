package ipvs

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netns"
)

// Handle is the real Kernel: the IPVS table of one network namespace.
// Single writes go through moby/ipvs, batches (Apply) and reads through
// our own generic netlink socket: the dump sees the 64-bit counters and
// persistent connection counts that moby/ipvs ignores, and a batch packs
// many requests per sendmsg where moby sends one and waits. One mutex
// serialises every call: both sockets carry request/reply exchanges that
// must not interleave.
type Handle struct {
	mu   sync.Mutex
	moby *mobyipvs.Handle
	genl *genlConn
	// writes counts the write requests sent, failed ones included: the
	// scale report's "netlink writes per change" (issue 15). Counted here
	// because every write of the table passes through these six methods
	// or Apply, which counts each request of a batch.
	writes atomic.Uint64
	// singles counts the single-call writes (under mu), for Sendmsgs.
	singles uint64
	// batchBuf is the last batch's buffer, kept for the next.
	batchBuf []byte
}

var _ Kernel = (*Handle)(nil)

// New opens the IPVS table of the network namespace at nsPath (a file
// such as /run/netns/NAME or /proc/PID/ns/net); "" means the caller's
// namespace. It fails if the kernel has no IPVS.
func New(nsPath string) (*Handle, error) {
	ns := netns.None()
	if nsPath != "" {
		var err error
		if ns, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("opening network namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
	}
	// Resolve the family on our own socket first: moby/ipvs only logs when
	// IPVS is missing and then fails every call obscurely.
	g, err := dialGenl(ns)
	if err != nil {
		return nil, err
	}
	m, err := mobyipvs.New(nsPath)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("opening IPVS handle: %w", err)
	}
	return &Handle{moby: m, genl: g}, nil
}

// Close releases the handle's sockets.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.moby.Close()
	h.genl.close()
	return nil
}

// Writes is the number of IPVS write requests (add, update, delete of a
// virtual or real server) sent since the handle was opened.
func (h *Handle) Writes() uint64 { return h.writes.Load() }

// Dump returns every virtual server with its real servers and counters,
// in the kernel's (hash) order.
func (h *Handle) Dump() ([]ServiceWithDests, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.genl.dump(true)
}

// DumpForSync is Dump without the real servers' stats (DestinationState.
// Stats nil): what a sync compares with what it wrote, and the connection
// counts it drains by, in some half the memory.
func (h *Handle) DumpForSync() ([]ServiceWithDests, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.genl.dump(false)
}

// DumpEachForSync is DumpForSync streamed: each is called with every
// service and its real servers, in the kernel's order, and *s (its real
// servers included) is only valid during the call. Nothing of the dump
// is held but what each keeps: a full resync at 10,000 Services x 10
// keeps only the services unlike what it wrote. An error from each ends
// the dump with it.
func (h *Handle) DumpEachForSync(each func(s *ServiceWithDests) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.genl.dumpEach(false, each)
}

// Counters implements CounterReader: one GET_SERVICE dump and one GET_DEST
// dump per service, each real server's connection counts added up as its
// message is read.
func (h *Handle) Counters() ([]ServiceCounters, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.genl.counters()
}

// GetDestinations returns one virtual server's real servers with their
// counters, in the kernel's order, reading only that service: ESRCH if it
// does not exist.
func (h *Handle) GetDestinations(k Key) ([]DestinationState, error) {
	k = k.Canonical()
	if err := validateKey(k); err != nil {
		return nil, fmt.Errorf("listing real servers of %s: %w", k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.genl.getDests(k)
}

// Info returns the kernel's IPVS version and connection table size, as
// ipvsadm prints them in its first line.
func (h *Handle) Info() (Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs, err := h.genl.ipvs(ipvsCmdGetInfo, 0)
	if err != nil {
		return Info{}, fmt.Errorf("reading IPVS info: %w", err)
	}
	var info Info
	for _, m := range msgs {
		attrs, err := parseGenl(m)
		if err != nil {
			return Info{}, fmt.Errorf("reading IPVS info: %w", err)
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case ipvsInfoAttrVersion:
				info.Version = u32(a.Value)
			case ipvsInfoAttrConnTabSize:
				info.ConnTabSize = u32(a.Value)
			}
		}
	}
	if info.Version == 0 {
		return Info{}, errors.New("reading IPVS info: kernel sent no version")
	}
	return info, nil
}

// AddService creates a virtual server; EEXIST if it exists.
func (h *Handle) AddService(s Service) error {
	ms, err := toMobyService(s)
	if err != nil {
		return fmt.Errorf("adding virtual server %s: %w", s.Key, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	h.singles++
	if err := h.moby.NewService(ms); err != nil {
		return fmt.Errorf("adding virtual server %s: %w", s.Key, err)
	}
	return nil
}

// UpdateService replaces a virtual server's scheduler, flags, timeout,
// netmask and persistence engine; ESRCH if it does not exist.
func (h *Handle) UpdateService(s Service) error {
	ms, err := toMobyService(s)
	if err != nil {
		return fmt.Errorf("updating virtual server %s: %w", s.Key, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	h.singles++
	if err := h.moby.UpdateService(ms); err != nil {
		return fmt.Errorf("updating virtual server %s: %w", s.Key, err)
	}
	return nil
}

// DeleteService removes a virtual server and its real servers; ESRCH if
// it does not exist.
func (h *Handle) DeleteService(k Key) error {
	ms, err := toMobyService(Service{Key: k})
	if err != nil {
		return fmt.Errorf("deleting virtual server %s: %w", k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	h.singles++
	if err := h.moby.DelService(ms); err != nil {
		return fmt.Errorf("deleting virtual server %s: %w", k, err)
	}
	return nil
}

// AddDestination adds a real server; ESRCH if the service is missing,
// EEXIST if the real server exists.
func (h *Handle) AddDestination(k Key, d Destination) error {
	ms, md, err := toMobyDest(k, d)
	if err != nil {
		return fmt.Errorf("adding real server %s to %s: %w", d.DestKey, k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	h.singles++
	if err := h.moby.NewDestination(ms, md); err != nil {
		return fmt.Errorf("adding real server %s to %s: %w", d.DestKey, k, err)
	}
	return nil
}

// UpdateDestination changes a real server's weight, forwarding method and
// thresholds; ESRCH if the service is missing, ENOENT if the real server
// is.
func (h *Handle) UpdateDestination(k Key, d Destination) error {
	ms, md, err := toMobyDest(k, d)
	if err != nil {
		return fmt.Errorf("updating real server %s in %s: %w", d.DestKey, k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	h.singles++
	if err := h.moby.UpdateDestination(ms, md); err != nil {
		return fmt.Errorf("updating real server %s in %s: %w", d.DestKey, k, err)
	}
	return nil
}

// DeleteDestination removes a real server; ESRCH if the service is
// missing, ENOENT if the real server is.
func (h *Handle) DeleteDestination(k Key, dk DestKey) error {
	ms, md, err := toMobyDest(k, Destination{DestKey: dk})
	if err != nil {
		return fmt.Errorf("deleting real server %s from %s: %w", dk, k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	h.singles++
	if err := h.moby.DelDestination(ms, md); err != nil {
		return fmt.Errorf("deleting real server %s from %s: %w", dk, k, err)
	}
	return nil
}

// toMobyService is the one place a Service becomes kernel numbers.
func toMobyService(s Service) (*mobyipvs.Service, error) {
	s.Key = s.Key.Canonical()
	if err := validateService(s); err != nil {
		return nil, err
	}
	mask, err := NetmaskToKernel(s.Family, s.Netmask)
	if err != nil {
		return nil, err
	}
	ms := &mobyipvs.Service{
		AddressFamily: familyToAF(s.Family),
		SchedName:     s.Scheduler,
		Flags:         s.KernelFlags(),
		Timeout:       s.Timeout,
		Netmask:       mask,
		PEName:        s.PEName,
	}
	if s.IsFWMark() {
		// No address, protocol or port: the kernel keys fwmark services
		// by family and mark alone.
		ms.FWMark = s.FWMark
	} else {
		ms.Address = net.IP(s.Address.AsSlice())
		ms.Protocol = uint16(s.Protocol)
		ms.Port = s.Port
	}
	return ms, nil
}

func toMobyDest(k Key, d Destination) (*mobyipvs.Service, *mobyipvs.Destination, error) {
	ms, err := toMobyService(Service{Key: k})
	if err != nil {
		return nil, nil, err
	}
	k = k.Canonical()
	d.Address = d.Address.Unmap()
	if err := validateDestination(k, d); err != nil {
		return nil, nil, err
	}
	md := &mobyipvs.Destination{
		Address:         net.IP(d.Address.AsSlice()),
		Port:            d.Port,
		Weight:          d.Weight,
		ConnectionFlags: uint32(d.Forwarding),
		AddressFamily:   familyToAF(k.Family),
		UpperThreshold:  d.UpperThreshold,
		LowerThreshold:  d.LowerThreshold,
	}
	return ms, md, nil
}

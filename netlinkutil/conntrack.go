package netlinkutil

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FlowFilter selects the conntrack flows a client opened to a virtual
// service that a given backend answers: original destination VIP:VPort,
// reply source Backend:BPort. (With net.ipv4.vs.conntrack=1 IPVS rewrites
// the reply tuple of the flow's entry to the real server it picked, just as
// a DNAT would, so that is where the backend shows.) A zero port matches
// any port, for firewall-mark services.
type FlowFilter struct {
	Protocol uint8
	VIP      netip.Addr
	VPort    uint16
	Backend  netip.Addr
	BPort    uint16
}

func (f FlowFilter) String() string {
	return fmt.Sprintf("proto %d %s -> %s", f.Protocol,
		netip.AddrPortFrom(f.VIP, f.VPort), netip.AddrPortFrom(f.Backend, f.BPort))
}

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (f FlowFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	return flow.Forward.Protocol == f.Protocol &&
		sameIP(flow.Forward.DstIP, f.VIP) && portMatches(flow.Forward.DstPort, f.VPort) &&
		sameIP(flow.Reverse.SrcIP, f.Backend) && portMatches(flow.Reverse.SrcPort, f.BPort)
}

func sameIP(a net.IP, b netip.Addr) bool {
	x, ok := netip.AddrFromSlice(a)
	return ok && x.Unmap() == b.Unmap()
}

func portMatches(got, want uint16) bool { return want == 0 || got == want }

// DeleteConntrack deletes the conntrack entries f selects, over netlink,
// and returns how many it deleted. The count is meaningful with an error
// too: a dump the kernel interrupted is still searched, and flows the
// kernel refused to delete are reported in the error.
func DeleteConntrack(h ConntrackHandle, f FlowFilter) (uint, error) {
	vip, backend := f.VIP.Unmap(), f.Backend.Unmap()
	if !vip.IsValid() || !backend.IsValid() || vip.Is4() != backend.Is4() {
		// Conntrack keys a flow by one family; a filter mixing them would
		// silently match nothing.
		return 0, fmt.Errorf("deleting conntrack entries for %s: need a VIP and backend of one family", f)
	}
	f.VIP, f.Backend = vip, backend
	family := netlink.InetFamily(unix.AF_INET6)
	if vip.Is4() {
		family = unix.AF_INET
	}
	n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, family, f)
	if err != nil {
		return n, fmt.Errorf("deleting conntrack entries for %s: %w", f, err)
	}
	return n, nil
}

// DeleteUDPConntrack deletes the UDP flows to vip:vport that backend:bport
// answered. Call it after removing that real server from a UDP service:
// UDP has no end of connection, so as long as a client keeps sending from
// the same port its entry never times out and keeps the client bound to the
// backend that is gone, while IPVS would schedule a fresh flow elsewhere.
func DeleteUDPConntrack(h ConntrackHandle, vip netip.Addr, vport uint16, backend netip.Addr, bport uint16) (uint, error) {
	return DeleteConntrack(h, FlowFilter{Protocol: unix.IPPROTO_UDP, VIP: vip, VPort: vport, Backend: backend, BPort: bport})
}

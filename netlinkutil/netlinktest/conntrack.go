package netlinktest

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddFlow puts a flow in the conntrack table, as traffic would.
func (f *Fake) AddFlow(flow netlink.ConntrackFlow) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flows = append(f.flows, flow)
}

// UDPFlow builds the entry for a client's UDP flow to vip:vport that a
// NAT (or IPVS with conntrack=1) sent to backend:bport.
func UDPFlow(client string, cport uint16, vip string, vport uint16, backend string, bport uint16) netlink.ConntrackFlow {
	c, v, b := net.ParseIP(client), net.ParseIP(vip), net.ParseIP(backend)
	fam := uint8(unix.AF_INET6)
	if v.To4() != nil {
		fam, c, v, b = unix.AF_INET, c.To4(), v.To4(), b.To4()
	}
	return netlink.ConntrackFlow{
		FamilyType: fam,
		Forward:    netlink.IPTuple{Protocol: unix.IPPROTO_UDP, SrcIP: c, SrcPort: cport, DstIP: v, DstPort: vport},
		Reverse:    netlink.IPTuple{Protocol: unix.IPPROTO_UDP, SrcIP: b, SrcPort: bport, DstIP: c, DstPort: cport},
	}
}

// Flows returns the conntrack table.
func (f *Fake) Flows() []netlink.ConntrackFlow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]netlink.ConntrackFlow(nil), f.flows...)
}

// ConntrackDeleteFilters deletes the flows of family (AF_UNSPEC: any) that
// any filter matches, and returns how many. The expectation table is
// always empty here.
func (f *Fake) ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("ConntrackDeleteFilters"); err != nil {
		return 0, err
	}
	if table != netlink.ConntrackTable {
		return 0, nil
	}
	var n uint
	kept := f.flows[:0]
	for _, fl := range f.flows {
		if (family == unix.AF_UNSPEC || fl.FamilyType == uint8(family)) && anyMatch(filters, &fl) {
			n++
			continue
		}
		kept = append(kept, fl)
	}
	f.flows = kept
	return n, nil
}

func anyMatch(filters []netlink.CustomConntrackFilter, fl *netlink.ConntrackFlow) bool {
	for _, filter := range filters {
		if filter.MatchConntrackFlow(fl) {
			return true
		}
	}
	return false
}

func flowString(fl netlink.ConntrackFlow) string {
	return fmt.Sprintf("proto %d %s:%d -> %s:%d reply %s:%d -> %s:%d", fl.Forward.Protocol,
		fl.Forward.SrcIP, fl.Forward.SrcPort, fl.Forward.DstIP, fl.Forward.DstPort,
		fl.Reverse.SrcIP, fl.Reverse.SrcPort, fl.Reverse.DstIP, fl.Reverse.DstPort)
}

package proxyconfig

import (
	"strconv"
	"time"

	"github.com/ipvsd/ipvsd/controller/kernelsettings"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// KernelSettings are the node-wide kernel settings the configuration asks
// for, as kube-proxy's IPVS mode makes them, on a node of ncpu CPUs.
// Zero values leave the kernel's setting alone, as in kube-proxy.
func KernelSettings(c *Config, ncpu int) kernelsettings.Settings {
	var s kernelsettings.Settings
	ct := &c.Conntrack
	if ct.MaxPerCore != nil && *ct.MaxPerCore > 0 {
		max := int(*ct.MaxPerCore) * ncpu
		if ct.Min != nil && int(*ct.Min) > max {
			max = int(*ct.Min)
		}
		s.Sysctls = append(s.Sysctls, netlinkutil.Sysctl{Name: "net.netfilter.nf_conntrack_max", Value: strconv.Itoa(max)})
		// A quarter of the entries as buckets: kube-proxy's ratio, short
		// chains at a full table.
		s.ConntrackHashsize = max / 4
	}
	seconds := func(name string, d time.Duration) {
		if d > 0 {
			s.Sysctls = append(s.Sysctls, netlinkutil.Sysctl{Name: name, Value: strconv.Itoa(int(d / time.Second))})
		}
	}
	if ct.TCPEstablishedTimeout != nil {
		seconds("net.netfilter.nf_conntrack_tcp_timeout_established", ct.TCPEstablishedTimeout.Duration)
	}
	if ct.TCPCloseWaitTimeout != nil {
		seconds("net.netfilter.nf_conntrack_tcp_timeout_close_wait", ct.TCPCloseWaitTimeout.Duration)
	}
	if ct.TCPBeLiberal {
		s.Sysctls = append(s.Sysctls, netlinkutil.Sysctl{Name: "net.netfilter.nf_conntrack_tcp_be_liberal", Value: "1"})
	}
	seconds("net.netfilter.nf_conntrack_udp_timeout", ct.UDPTimeout.Duration)
	seconds("net.netfilter.nf_conntrack_udp_timeout_stream", ct.UDPStreamTimeout.Duration)
	if c.IPVS.StrictARP {
		// The node must not answer ARP for the service addresses on its
		// dummy link: arp_ignore=1 answers only for addresses of the
		// receiving interface, arp_announce=2 sources ARP requests from
		// the outgoing interface's best address. (MetalLB's L2 mode needs
		// it: only the elected speaker may answer.)
		s.Sysctls = append(s.Sysctls,
			netlinkutil.Sysctl{Name: "net.ipv4.conf.all.arp_ignore", Value: "1"},
			netlinkutil.Sysctl{Name: "net.ipv4.conf.all.arp_announce", Value: "2"})
	}
	s.IPVS = ipvs.Timeouts{TCP: c.IPVS.TCPTimeout.Duration, TCPFin: c.IPVS.TCPFinTimeout.Duration, UDP: c.IPVS.UDPTimeout.Duration}
	return s
}

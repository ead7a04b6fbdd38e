package ipvs

import (
	"net/netip"
	"strconv"
	"strings"
)

// Names resolves addresses and ports to names for listings without -n.
// ipvs/netdb implements it from /etc/hosts and /etc/services, as ipvsadm's
// gethostbyaddr and getservbyport calls resolve them.
type Names interface {
	// Host returns the name of an address.
	Host(netip.Addr) (string, bool)
	// Service returns the name of a port for a protocol ("tcp", "udp",
	// "sctp").
	Service(port uint16, proto string) (string, bool)
}

// endpointMax is the longest name ipvsadm prints for an address and port:
// it formats them into a 60-byte buffer, so longer names are cut.
const endpointMax = 59

// Endpoint prints an address and port as ipvsadm does: "192.0.2.1:80",
// "[2001:db8::1]:80" (glibc's inet_ntop spelling), or with names
// "localhost:http" when names knows them. A port is named only for TCP,
// UDP and SCTP: ipvsadm looks up nothing for other protocols (firewall-mark
// services, whose protocol the kernel does not report, and persistence
// templates).
func Endpoint(a netip.Addr, port uint16, proto Protocol, names Names) string {
	host, service := "", strconv.Itoa(int(port))
	if a.Is4() {
		host = a.String()
	} else {
		host = ntop6(a)
	}
	if names != nil {
		if n, ok := names.Host(a); ok {
			host = n
		}
		if p := lookupProto(proto); p != "" {
			if n, ok := names.Service(port, p); ok {
				service = n
			}
		}
	}
	s := host + ":" + service
	if !a.Is4() {
		s = "[" + host + "]:" + service
	}
	if len(s) > endpointMax {
		s = s[:endpointMax]
	}
	return s
}

// lookupProto is the protocol name getservbyport is asked with.
func lookupProto(p Protocol) string {
	switch p {
	case TCP, UDP, SCTP:
		return strings.ToLower(p.String())
	}
	return ""
}

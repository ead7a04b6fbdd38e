package benchreport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
)

// Backends is the number of real servers of every service in the report:
// the N Services x 10 endpoints.
const Backends = 10

// Namespace holds the report's Kubernetes Services and EndpointSlices.
const Namespace = "bench"

// Modes, as the table and the figures name them.
const (
	Standalone = "standalone"
	Kube       = "kube"
	KubeProxy  = "kube-proxy"
)

// EndpointIP is real server j of service i, in 10.16.0.0/12 (16 per
// service, so j up to 15): clear of the lab's network (10.0.2.0/24), the
// Service range and the cluster CIDR, and the same on host and guest.
func EndpointIP(i, j int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0x0a100000+uint32(i*16+j+1))
	return netip.AddrFrom4(b)
}

// ReplacementIP is the address that change k (of n services) gives
// endpoint 0 of its service k%n: one of six spares (j 10-15), never the
// one the previous change of that service gave it.
func ReplacementIP(k, n int) netip.Addr {
	return EndpointIP(k%n, Backends+(k/n)%6)
}

// StandaloneVIP is the address and port of standalone service i: ten
// ports per address, as a host with many services on few VIPs has them.
func StandaloneVIP(i int) netip.AddrPort {
	v := i / 10
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 96, byte(v / 250), byte(v%250 + 1)}), uint16(8000+i%10))
}

// ChangedWeight is the weight change k (of n services) gives backend 0
// of service k%n: different from the one the previous change gave it and
// from the initial 1.
func ChangedWeight(k, n int) int { return 2 + (k/n)%50 }

// WriteStandaloneConfig writes the standalone file of n NAT services of
// Backends backends each, one service a line in flow style as a
// generator would write it, and kept compact because 50,000 services must
// fit the 16 MiB limit. weights overrides backend 0's weight by service.
func WriteStandaloneConfig(w io.Writer, n int, weights map[int]int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, "interface: ipvs0\nservices:\n")
	for i := range n {
		vip := StandaloneVIP(i)
		fmt.Fprintf(bw, "- {name: s%d, vip: %s, port: %d, scheduler: rr, backends: [", i, vip.Addr(), vip.Port())
		for j := range Backends {
			if j > 0 {
				bw.WriteByte(',')
			}
			if wt, ok := weights[i]; ok && j == 0 {
				fmt.Fprintf(bw, "{address: %s, weight: %d}", EndpointIP(i, j), wt)
				continue
			}
			fmt.Fprintf(bw, "{address: %s}", EndpointIP(i, j))
		}
		bw.WriteString("]}\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the standalone config: %w", err)
	}
	return nil
}

package ipvs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ConnPath is the kernel's connection table of the reading process's
// network namespace; ipvsadm -c reads it too (the netlink API has no
// connection dump).
const ConnPath = "/proc/net/ip_vs_conn"

// Connection is one entry of the kernel's IPVS connection table: a
// connection or a persistence template.
type Connection struct {
	// Protocol is the kernel's name for it: TCP, UDP, SCTP, or IP for a
	// template of a firewall-mark or port-zero service.
	Protocol    string         `json:"protocol"`
	Client      netip.AddrPort `json:"client"`
	Virtual     netip.AddrPort `json:"virtual"`
	Destination netip.AddrPort `json:"destination"`
	State       string         `json:"state"`
	// Expires is the number of seconds left before the entry expires.
	Expires uint32 `json:"expires"`
	// PEName and PEData are the persistence engine and its data (a SIP
	// Call-ID), when a service uses one.
	PEName string `json:"peName,omitempty"`
	PEData string `json:"peData,omitempty"`
}

// ParseConnections reads the table in the format of /proc/net/ip_vs_conn:
// a heading line, then one entry a line, IPv4 addresses as 8 hex digits,
// IPv6 ones in full, ports as 4 hex digits.
func ParseConnections(r io.Reader) ([]Connection, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading IPVS connections: %w", err)
		}
		return nil, fmt.Errorf("reading IPVS connections: %w", io.ErrUnexpectedEOF)
	}
	var out []Connection
	for n := 2; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		c, err := parseConnection(f)
		if err != nil {
			return nil, fmt.Errorf("IPVS connection table line %d: %w", n, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading IPVS connections: %w", err)
	}
	return out, nil
}

func parseConnection(f []string) (Connection, error) {
	if len(f) < 9 {
		return Connection{}, fmt.Errorf("%d fields, want at least 9", len(f))
	}
	var c Connection
	var err error
	c.Protocol = f[0]
	if c.Client, err = procAddrPort(f[1], f[2]); err != nil {
		return c, fmt.Errorf("client: %w", err)
	}
	if c.Virtual, err = procAddrPort(f[3], f[4]); err != nil {
		return c, fmt.Errorf("virtual: %w", err)
	}
	if c.Destination, err = procAddrPort(f[5], f[6]); err != nil {
		return c, fmt.Errorf("destination: %w", err)
	}
	c.State = f[7]
	exp, err := strconv.ParseUint(f[8], 10, 32)
	if err != nil {
		return c, fmt.Errorf("expires: %w", err)
	}
	c.Expires = uint32(exp)
	if len(f) > 9 {
		c.PEName = f[9]
	}
	if len(f) > 10 {
		c.PEData = f[10]
	}
	return c, nil
}

// procAddrPort parses an address (8 hex digits for IPv4, the full colon
// form for IPv6) and a port of 4 hex digits.
func procAddrPort(addr, port string) (netip.AddrPort, error) {
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if strings.Contains(addr, ":") {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPortFrom(a, uint16(p)), nil
	}
	v, err := strconv.ParseUint(addr, 16, 32)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(p)), nil
}

// RenderConnections writes the table as ipvsadm 1.31 lists it with -c:
// expiry as minutes:seconds, addresses through names (nil: numeric, -n).
// With persistEngine (--persistent-conn) two more columns name the
// persistence engine and its data, for the entries that have both.
func RenderConnections(w io.Writer, conns []Connection, names Names, persistEngine bool) error {
	var b bytes.Buffer
	b.WriteString("IPVS connection entries\n")
	if persistEngine {
		fmt.Fprintf(&b, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n", "state", "source", "virtual", "destination", "pe name", "pe_data")
	} else {
		fmt.Fprintf(&b, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	}
	for _, c := range conns {
		proto := connProtocol(c.Protocol)
		src := Endpoint(c.Client.Addr(), c.Client.Port(), proto, names)
		vip := Endpoint(c.Virtual.Addr(), c.Virtual.Port(), proto, names)
		dst := Endpoint(c.Destination.Addr(), c.Destination.Port(), proto, names)
		expire := fmt.Sprintf("%02d:%02d", c.Expires/60, c.Expires%60)
		if persistEngine && c.PEName != "" && c.PEData != "" {
			fmt.Fprintf(&b, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n", c.Protocol, expire, c.State, src, vip, dst, c.PEName, c.PEData)
			continue
		}
		fmt.Fprintf(&b, "%-3s %-6s %-11s %-18s %-18s %s\n", c.Protocol, expire, c.State, src, vip, dst)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// connProtocol maps the kernel's protocol name to the protocol whose port
// names apply; templates ("IP") get none.
func connProtocol(name string) Protocol {
	switch name {
	case "TCP":
		return TCP
	case "UDP":
		return UDP
	case "SCTP":
		return SCTP
	}
	return 0
}

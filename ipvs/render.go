package ipvs

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Format selects which of ipvsadm's listings Render reproduces.
type Format int

const (
	FormatDefault        Format = iota // ipvsadm -Ln
	FormatStats                        // ipvsadm -Ln --stats
	FormatRate                         // ipvsadm -Ln --rate
	FormatThresholds                   // ipvsadm -Ln --thresholds
	FormatPersistentConn               // ipvsadm -Ln --persistent-conn
)

// Order selects the order services and real servers are listed in.
type Order int

const (
	// OrderIpvsadm sorts as ipvsadm does by default, quirks included, so
	// that rendering a Dump matches `ipvsadm -Ln` byte for byte.
	OrderIpvsadm Order = iota
	// OrderGiven keeps the order of the slices passed in: rendering a Dump
	// this way matches `ipvsadm -Ln --nosort` (the kernel's hash order).
	OrderGiven
	// OrderKey sorts by Key.Less and DestKey.Less: a plain, human order.
	OrderKey
)

// RenderOptions say what to print and how.
type RenderOptions struct {
	// Info fills the first line, "IP Virtual Server version 1.2.1
	// (size=4096)"; pass the kernel's (Handle.Info) to match ipvsadm.
	Info   Info
	Format Format
	Order  Order
	// Exact prints counters in full, as --exact does, instead of scaled
	// with K, M, G or T. It matters only for FormatStats and FormatRate.
	Exact bool
	// Names, when set, prints host and port names where it knows them,
	// as ipvsadm does without -n; nil prints numbers, as -n does.
	Names Names
	// Owner, when set, adds a first column naming what each virtual
	// server belongs to. The rest of each line is ipvsadm's, unchanged.
	Owner func(Key) string
}

// Render writes services as ipvsadm 1.31 lists the whole table (-L).
func Render(w io.Writer, services []ServiceWithDests, opts RenderOptions) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "IP Virtual Server version %s (size=%d)\n", opts.Info.VersionString(), opts.Info.ConnTabSize)
	renderTable(&b, ordered(services, opts.Order), opts)
	_, err := w.Write(b.Bytes())
	return err
}

// RenderService writes one service as ipvsadm 1.31 lists a service
// selected with -t, -u, --sctp-service or -f: the column titles and the
// service, without the version line.
func RenderService(w io.Writer, s ServiceWithDests, opts RenderOptions) error {
	var b bytes.Buffer
	renderTable(&b, ordered([]ServiceWithDests{s}, opts.Order), opts)
	_, err := w.Write(b.Bytes())
	return err
}

func renderTable(b *bytes.Buffer, services []ServiceWithDests, opts RenderOptions) {
	var labels []string
	width := 0
	if opts.Owner != nil {
		labels = make([]string, len(services))
		width = len(ownerTitle)
		for i, s := range services {
			labels[i] = opts.Owner(s.Key)
			width = max(width, len(labels[i]))
		}
	}
	pad := func(label string) string {
		if opts.Owner == nil {
			return ""
		}
		return fmt.Sprintf("%-*s ", width, label)
	}
	first, second, _ := strings.Cut(title(opts.Format), "\n")
	b.WriteString(pad(ownerTitle) + first + "\n" + pad("") + second)
	for i, s := range services {
		label := ""
		if labels != nil {
			label = labels[i]
		}
		renderService(b, s, opts, pad(label), pad(""))
	}
}

const ownerTitle = "Owner"

// RenderString is Render into a string.
func RenderString(services []ServiceWithDests, opts RenderOptions) string {
	var b strings.Builder
	_ = Render(&b, services, opts) // a strings.Builder never fails
	return b.String()
}

// title is the two column-heading lines of each format.
func title(f Format) string {
	const first, dests = "Prot LocalAddress:Port", "  -> RemoteAddress:Port\n"
	switch f {
	case FormatStats:
		return fmt.Sprintf("%-33s %8s %8s %8s %8s %8s\n", first, "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes") + dests
	case FormatRate:
		return fmt.Sprintf("%-33s %8s %8s %8s %8s %8s\n", first, "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS") + dests
	case FormatThresholds:
		return fmt.Sprintf("%-33s %-10s %-10s %-10s %-10s\n", first, "Uthreshold", "Lthreshold", "ActiveConn", "InActConn") + dests
	case FormatPersistentConn:
		return fmt.Sprintf("%-33s %-9s %-11s %-10s %-10s\n", first, "Weight", "PersistConn", "ActiveConn", "InActConn") + dests
	}
	return first + " Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
}

func renderService(b *bytes.Buffer, s ServiceWithDests, opts RenderOptions, svcPrefix, destPrefix string) {
	name := serviceName(s.Key, opts.Names)
	b.WriteString(svcPrefix)
	switch opts.Format {
	case FormatStats:
		fmt.Fprintf(b, "%-33s", name)
		counters(b, opts.Exact, s.Stats.Conns, s.Stats.InPkts, s.Stats.OutPkts, s.Stats.InBytes, s.Stats.OutBytes)
	case FormatRate:
		fmt.Fprintf(b, "%-33s", name)
		counters(b, opts.Exact, s.Stats.CPS, s.Stats.InPPS, s.Stats.OutPPS, s.Stats.InBPS, s.Stats.OutBPS)
	default:
		b.WriteString(name + " " + s.Scheduler + serviceFlags(s.Service))
	}
	b.WriteByte('\n')
	for _, d := range s.Destinations {
		b.WriteString(destPrefix)
		renderDest(b, d, s.Protocol, opts)
	}
}

func renderDest(b *bytes.Buffer, d DestinationState, proto Protocol, opts RenderOptions) {
	name := Endpoint(d.Address, d.Port, proto, opts.Names)
	// ipvsadm cuts an IPv4 real server's name to its 28-column field
	// (a long host name from /etc/hosts can be longer); IPv6 ones overflow.
	if d.Address.Is4() && len(name) > 28 {
		name = name[:28]
	}
	st := d.Counters()
	switch opts.Format {
	case FormatStats:
		fmt.Fprintf(b, "  -> %-28s", name)
		counters(b, opts.Exact, st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes)
		b.WriteByte('\n')
	case FormatRate:
		// ipvsadm prints the connection and packet rates unscaled and
		// only the byte rates through its scaling.
		fmt.Fprintf(b, "  -> %-28s %8d %8d %8d", name, st.CPS, st.InPPS, st.OutPPS)
		counters(b, opts.Exact, st.InBPS, st.OutBPS)
		b.WriteByte('\n')
	case FormatThresholds:
		fmt.Fprintf(b, "  -> %-28s %-10d %-10d %-10d %-10d\n", name, d.UpperThreshold, d.LowerThreshold, d.ActiveConns, d.InactiveConns)
	case FormatPersistentConn:
		fmt.Fprintf(b, "  -> %-28s %-9d %-11d %-10d %-10d\n", name, d.Weight, d.PersistConns, d.ActiveConns, d.InactiveConns)
	default:
		fmt.Fprintf(b, "  -> %-28s %-7s %-6d %-10d %-10d\n", name, d.Forwarding, d.Weight, d.ActiveConns, d.InactiveConns)
	}
}

// serviceName is the first column: "TCP  192.0.2.1:80", "SCTP [2001:db8::1]:80",
// "FWM  42", "FWM  7 IPv6". ipvsadm prints the mark as a signed int, and
// cuts an IPv4 service's name (with a long host name) to 33 columns.
func serviceName(k Key, names Names) string {
	if k.IsFWMark() {
		n := "FWM  " + strconv.Itoa(int(int32(k.FWMark)))
		if k.Family == IPv6 {
			n += " IPv6"
		}
		return n
	}
	n := fmt.Sprintf("%-4s %s", k.Protocol, Endpoint(k.Address, k.Port, k.Protocol, names))
	if k.Family != IPv6 && len(n) > 33 {
		n = n[:33]
	}
	return n
}

// serviceFlags is what follows the scheduler name: scheduler flags in
// parentheses, persistence, persistence engine, one-packet scheduling.
func serviceFlags(s Service) string {
	var b strings.Builder
	bits := s.KernelFlags()
	if bits&(kernelFlagSched1|kernelFlagSched2|kernelFlagSched3) != 0 {
		b.WriteString(" (" + strings.Join(schedFlagNames(s.Scheduler, bits), ",") + ")")
	}
	if bits&kernelFlagPersistent != 0 {
		fmt.Fprintf(&b, " persistent %d", s.Timeout)
		if s.Family == IPv6 {
			if p := s.Netmask; p != 0 && p != 128 {
				fmt.Fprintf(&b, " mask %d", p)
			}
		} else if p := s.Netmask; p != 0 && p != 32 {
			b.WriteString(" mask " + ipv4Mask(p).String())
		}
		// ipvsadm names the persistence engine only of a persistent
		// service.
		if s.PEName != "" {
			b.WriteString(" pe " + s.PEName)
		}
	}
	if bits&kernelFlagOnePacket != 0 {
		b.WriteString(" ops")
	}
	return b.String()
}

// schedFlagNames names the scheduler bits as ipvsadm does: sh-* under sh,
// mh-* under mh (where the third bit has no name and is left out, which
// can leave the parentheses empty), flag-N under any other scheduler.
func schedFlagNames(sched string, bits uint32) []string {
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	switch sched {
	case "sh":
		names = [3]string{"sh-fallback", "sh-port", ""}
	case "mh":
		names = [3]string{"mh-fallback", "mh-port", ""}
	}
	var out []string
	for i, bit := range []uint32{kernelFlagSched1, kernelFlagSched2, kernelFlagSched3} {
		if bits&bit != 0 && names[i] != "" {
			out = append(out, names[i])
		}
	}
	return out
}

// ntop6 formats an IPv6 address as glibc's inet_ntop does. It agrees with
// netip (RFC 5952) except for the deprecated IPv4-compatible form: an
// address whose first 96 bits are zero and whose seventh group is not is
// written with a dotted quad ("::1.2.3.4").
func ntop6(a netip.Addr) string {
	b := a.As16()
	zero := true
	for _, x := range b[:12] {
		zero = zero && x == 0
	}
	if zero && (b[12] != 0 || b[13] != 0) {
		return "::" + netip.AddrFrom4([4]byte(b[12:])).String()
	}
	return a.String()
}

// counters prints ipvsadm's scaled 9-column numbers (or, exact, numbers at
// least 9 columns wide).
func counters(b *bytes.Buffer, exact bool, vs ...uint64) {
	for _, v := range vs {
		if exact {
			s := strconv.FormatUint(v, 10)
			fmt.Fprintf(b, "%*s", max(9, len(s)+1), s)
			continue
		}
		switch {
		case v < 100_000_000:
			fmt.Fprintf(b, "%9d", v)
		case v < 1_000_000_000:
			fmt.Fprintf(b, "%8dK", v/1_000)
		case v < 100_000_000_000:
			fmt.Fprintf(b, "%8dM", v/1_000_000)
		case v < 100_000_000_000_000:
			fmt.Fprintf(b, "%8dG", v/1_000_000_000)
		default:
			fmt.Fprintf(b, "%8dT", v/1_000_000_000_000)
		}
	}
}

//go:build lab

package faults

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/ipvs"
)

// desiredConfig is a generated standalone config: NAT services without
// health checks, ten ports on each VIP, so the table also holds VIPs
// that carry several services.
type desiredConfig struct {
	services, backends int
}

func (c desiredConfig) vip(i int) netip.Addr {
	v := i / 10
	return netip.AddrFrom4([4]byte{10, 96, byte(v / 250), byte(v%250 + 1)})
}

func (c desiredConfig) port(i int) int { return 8000 + i%10 }

// backend j of service i; the port is the service's (the config's
// default, which keeps a 10,000-service file small).
func (c desiredConfig) backend(i, j int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 100, byte(j), byte(i%250 + 1)})
}

// yaml renders the config in flow style, one service a line.
func (c desiredConfig) yaml() []byte {
	var b bytes.Buffer
	b.WriteString("interface: " + link + "\nservices:\n")
	for i := range c.services {
		fmt.Fprintf(&b, "- {name: s%d, vip: %s, port: %d, scheduler: rr, backends: [", i, c.vip(i), c.port(i))
		for j := range c.backends {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{address: %s}", c.backend(i, j))
		}
		b.WriteString("]}\n")
	}
	return b.Bytes()
}

// wanted is what the config must leave, each list sorted: the lines of
// `ipvsadm -Sn`, the ipvsadm ids of the services (`-t 10.96.0.1:8000`),
// and the VIPs as `ip addr` prints them.
type wanted struct {
	lines, services, vips []string
}

func (c desiredConfig) want() wanted {
	var w wanted
	for i := range c.services {
		svc := fmt.Sprintf("-t %s:%d", c.vip(i), c.port(i))
		w.services = append(w.services, svc)
		w.lines = append(w.lines, "-A "+svc+" -s rr")
		for j := range c.backends {
			w.lines = append(w.lines, fmt.Sprintf("-a %s -r %s:%d -m -w 1", svc, c.backend(i, j), c.port(i)))
		}
		if i%10 == 0 {
			w.vips = append(w.vips, c.vip(i).String())
		}
	}
	slices.Sort(w.lines)
	slices.Sort(w.services)
	slices.Sort(w.vips)
	return w
}

// table is the kernel's IPVS table as `ipvsadm -Sn` prints it, split into
// the services of foreign (their -A line and real servers, in ipvsadm's
// order) and the rest, sorted.
type table struct {
	foreign []string
	ours    []string
	// oursServices are the ipvsadm service ids (`-t 10.96.0.1:8000`) of ours.
	oursServices []string
}

// readTable runs the real ipvsadm; foreign are the service ids
// (`-t ADDR:PORT`, `-u ...`, `-f MARK`) that are not ipvsd's.
func readTable(t *testing.T, foreign []string) table {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-Sn").Output()
	if err != nil {
		t.Fatalf("ipvsadm -Sn: %v", err)
	}
	var tb table
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		id := f[1] + " " + f[2]
		switch {
		case slices.Contains(foreign, id):
			tb.foreign = append(tb.foreign, l)
		default:
			tb.ours = append(tb.ours, l)
			if f[0] == "-A" {
				tb.oursServices = append(tb.oursServices, id)
			}
		}
	}
	slices.Sort(tb.ours)
	slices.Sort(tb.oursServices)
	return tb
}

// diff returns what of want is missing from got and what got has that want
// lacks; both sorted. A wrong entry (weight, scheduler, forwarding) shows
// up once in each.
func diff(want, got []string) (missing, extra []string) {
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || (i < len(want) && want[i] < got[j]):
			missing = append(missing, want[i])
			i++
		case i == len(want) || got[j] < want[i]:
			extra = append(extra, got[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}

// record is the ownership record on disk, its services as ipvsadm service
// ids, sorted.
type record struct {
	services  []string
	addresses []string
}

func readRecord(t *testing.T) record {
	t.Helper()
	r, err := runstate.LoadRecord(recordPath)
	if err != nil {
		t.Fatalf("ownership record: %v", err)
	}
	var out record
	for k := range r.Services {
		out.services = append(out.services, serviceID(k))
	}
	for a := range r.Addresses {
		out.addresses = append(out.addresses, a.String())
	}
	slices.Sort(out.services)
	slices.Sort(out.addresses)
	return out
}

// serviceID spells k as ipvsadm -S does.
func serviceID(k ipvs.Key) string {
	if k.IsFWMark() {
		return fmt.Sprintf("-f %d", k.FWMark)
	}
	opt := map[ipvs.Protocol]string{ipvs.TCP: "-t", ipvs.UDP: "-u", ipvs.SCTP: "--sctp-service"}[k.Protocol]
	return opt + " " + netip.AddrPortFrom(k.Address, k.Port).String()
}

// linkAddresses are the IPv4 addresses on the VIP link, sorted; none when
// the link does not exist yet.
func linkAddresses(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("/sbin/ip", "-o", "-4", "addr", "show", "dev", link).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "does not exist") {
			return nil
		}
		t.Fatalf("ip addr show dev %s: %v\n%s", link, err, out)
	}
	var addrs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[2] == "inet" {
			addrs = append(addrs, strings.Split(f[3], "/")[0])
		}
	}
	slices.Sort(addrs)
	return addrs
}

// subset returns the elements of a (sorted) that b (sorted) lacks.
func subset(a, b []string) []string {
	missing, _ := diff(a, b)
	return missing
}

// sample is at most n of lines, for failure messages.
func sample(lines []string, n int) string {
	if len(lines) > n {
		return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... and %d more", len(lines)-n)
	}
	return strings.Join(lines, "\n")
}

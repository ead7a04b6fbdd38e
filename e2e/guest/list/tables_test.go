//go:build lab

package list

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf"} // twos is newer than the lab kernel

// generate writes a random table: every protocol and family, firewall
// marks of both families, persistence with and without netmasks, scheduler
// flags, one-packet scheduling, and real servers of every forwarding
// method with assorted weights and thresholds. Addresses come from a few
// small pools, so services and real servers collide with the names
// withHosts gives them.
func generate(t *testing.T, h *ipvs.Handle, rng *rand.Rand) []ipvs.Service {
	t.Helper()
	svcs := []ipvs.Service{}
	if rng.IntN(2) == 0 {
		svcs = append(svcs, ipvstest.ServiceVarieties()...)
	}
	seen := map[ipvs.Key]bool{}
	for _, s := range svcs {
		seen[s.Key.Canonical()] = true
	}
	for n := 5 + rng.IntN(20); len(svcs) < n; {
		s := ipvs.Service{Scheduler: schedulers[rng.IntN(len(schedulers))]}
		v6 := rng.IntN(3) == 0
		s.Family = ipvs.IPv4
		if v6 {
			s.Family = ipvs.IPv6
		}
		if rng.IntN(6) == 0 {
			s.FWMark = uint32(1 + rng.IntN(5))
			if rng.IntN(4) == 0 {
				s.FWMark = rng.Uint32() | 1
			}
		} else {
			s.Protocol = []ipvs.Protocol{ipvs.TCP, ipvs.UDP, ipvs.SCTP}[rng.IntN(3)]
			s.Address = pick(rng, v6, vips)
			s.Port = []uint16{80, 443, 53, 22, 8080, 65535, 0, 5060}[rng.IntN(8)]
		}
		// The kernel takes port 0 only for a persistent service.
		if rng.IntN(3) == 0 || (!s.IsFWMark() && s.Port == 0) {
			s.Timeout = uint32(1 + rng.IntN(3600))
			if rng.IntN(2) == 0 {
				s.Netmask = uint8(8 + rng.IntN(24))
				if v6 {
					s.Netmask = uint8(32 + rng.IntN(96))
				}
			}
		}
		switch s.Scheduler {
		case "sh":
			s.Flags |= ipvs.Flags(rng.IntN(4)) << 2 // sh-fallback, sh-port
		case "mh":
			s.Flags |= ipvs.Flags(rng.IntN(4)) << 4 // mh-fallback, mh-port
		}
		if s.Protocol == ipvs.UDP && rng.IntN(3) == 0 {
			s.Flags |= ipvs.FlagOnePacket
		}
		if k := s.Key.Canonical(); !seen[k] {
			seen[k] = true
			svcs = append(svcs, s)
		}
	}
	for _, s := range svcs {
		if err := h.AddService(s); err != nil {
			t.Fatal(err)
		}
		used := map[ipvs.DestKey]bool{}
		for j := rng.IntN(6); j > 0; j-- {
			d := ipvs.Destination{
				DestKey:    ipvs.DestKey{Address: pick(rng, s.Family == ipvs.IPv6, rips), Port: uint16(rng.IntN(3) * 4040)},
				Forwarding: ipvs.Forwarding(rng.IntN(4)),
				Weight:     []int{0, 1, 2, 100, 65535, 1 << 20}[rng.IntN(6)],
			}
			if rng.IntN(3) == 0 {
				// The kernel refuses a lower threshold above the upper.
				d.UpperThreshold = uint32(rng.IntN(1000))
				d.LowerThreshold = uint32(rng.IntN(int(d.UpperThreshold) + 1))
			}
			if used[d.DestKey] {
				continue
			}
			used[d.DestKey] = true
			if err := h.AddDestination(s.Key, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	return svcs
}

var (
	vips = []string{"10.96.0.10", "10.96.0.11", "192.0.2.1", "198.51.100.200", "255.255.255.254", "127.0.0.1", "2001:db8::10", "2001:db8::1:2", "::1", "ffff::1", "::10.1.2.3"}
	rips = []string{"10.100.1.2", "10.100.2.2", "10.1.0.1", "200.0.0.1", "127.0.0.1", "2001:db8:1::2", "2001:db8:2::2", "::1"}
)

func pick(rng *rand.Rand, v6 bool, pool []string) netip.Addr {
	for {
		a := netip.MustParseAddr(pool[rng.IntN(len(pool))])
		if a.Is6() == v6 {
			return a
		}
	}
}

// tableHosts names most pool addresses, some with names long enough that
// ipvsadm cuts its columns.
func tableHosts(t *testing.T) {
	withHosts(t,
		"10.96.0.10 web.example web",
		"10.96.0.11 a-very-long-virtual-server-name.cluster.local",
		"192.0.2.1 doc",
		"10.100.1.2 be1 backend-one",
		"10.100.2.2 real-server-with-a-name-far-too-long.example.org",
		"200.0.0.1 far",
		"2001:db8::10 web6",
		"2001:db8:1::2 be1-v6.example",
		"2001:db8:2::2 an-ipv6-real-server-whose-name-overflows-every-column.example.net",
	)
}

// TestGeneratedTables compares every listing option, with and without
// -n, on many random tables, and each service selected on its own with
// -t/-u/--sctp-service/-f.
func TestGeneratedTables(t *testing.T) {
	tableHosts(t)
	h := handle(t)
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			flush(t)
			svcs := generate(t, h, rand.New(rand.NewPCG(seed, 5)))
			if out := same(t, "-n"); strings.Count(out, "\n") < len(svcs)+3 {
				t.Fatalf("ipvsadm lists fewer services than were written:\n%s", out)
			}
			for _, a := range listingArgs {
				for _, args := range withNumeric(a) {
					same(t, args...)
				}
			}
			// Services on their own, each in one of the formats.
			for i, s := range svcs[:min(len(svcs), 12)] {
				sel := selector(s.Key)
				for _, a := range listingArgs[i%len(listingArgs):][:1] {
					for _, args := range withNumeric(append(a, sel...)) {
						same(t, args...)
					}
				}
			}
		})
	}
}

// selector names k on ipvsadm's command line.
func selector(k ipvs.Key) []string {
	if k.IsFWMark() {
		if k.Family == ipvs.IPv6 {
			return []string{"-f", strconv.FormatUint(uint64(k.FWMark), 10), "-6"}
		}
		return []string{"-f", strconv.FormatUint(uint64(k.FWMark), 10)}
	}
	opt := map[ipvs.Protocol]string{ipvs.TCP: "-t", ipvs.UDP: "-u", ipvs.SCTP: "--sctp-service"}[k.Protocol]
	return []string{opt, netip.AddrPortFrom(k.Address, k.Port).String()}
}

// TestSelectionByName selects services by host and service name, and a
// service that does not exist: ipvsadm's message, exit status 1.
func TestSelectionByName(t *testing.T) {
	tableHosts(t)
	flush(t)
	h := handle(t)
	for _, s := range []ipvs.Service{
		{Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.10"), Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr"},
		{Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: ipvs.UDP, Port: 53}, Scheduler: "rr"},
		{Key: ipvs.Key{Family: ipvs.IPv6, Address: netip.MustParseAddr("2001:db8::10"), Protocol: ipvs.TCP}, Scheduler: "wlc", Timeout: 60},
	} {
		if err := h.AddService(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"-t", "web:http"}, {"-n", "-t", "web.example:80"}, {"-u", "doc:domain"},
		{"-t", "[2001:db8::10]:0"}, {"-n", "-t", "2001:db8::10"},
	} {
		same(t, args...)
	}
	for _, args := range [][]string{
		{"-n", "-t", "10.9.9.9:80"}, {"-n", "-u", "10.96.0.10:80"}, {"-n", "-f", "77"}, {"-f", "77", "-6"},
		{"--sctp-service", "[2001:db8::10]:80"},
	} {
		want, got := ipvsadm(t, args...), ipvsd(t, args...)
		if want.code != 1 || want.stdout != "" || want.stderr != "No such service\n" {
			t.Fatalf("ipvsadm -L %v: %+v, want exit 1 and No such service", args, want)
		}
		if got != want {
			t.Errorf("ipvsd list %v = %+v, want ipvsadm's %+v", args, got, want)
		}
	}
}

package ipvstest

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// errorCase is one failing call and the errno it must wrap. Each runs on a
// kernel holding one IPv4 and one IPv6 TCP service with one real server
// each, and must leave that table unchanged.
type errorCase struct {
	name string
	call func(k ipvs.Kernel) error
	want unix.Errno
}

var (
	v4Key  = ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: ipvs.TCP, Port: 80}
	v6Key  = ipvs.Key{Family: ipvs.IPv6, Address: netip.MustParseAddr("2001:db8::1"), Protocol: ipvs.TCP, Port: 80}
	v4Svc  = ipvs.Service{Key: v4Key, Scheduler: "rr"}
	v6Svc  = ipvs.Service{Key: v6Key, Scheduler: "rr"}
	v4Dest = ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.1.0.1"), Port: 8080}, Weight: 1}
	v6Dest = ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("2001:db8:be::1"), Port: 8080}, Weight: 1}

	missingKey = ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.99"), Protocol: ipvs.TCP, Port: 80}
	otherDest  = ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr("10.1.0.99"), Port: 8080}, Weight: 1}
)

func destAt(addr string, mod func(*ipvs.Destination)) ipvs.Destination {
	d := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr(addr), Port: 8080}, Weight: 1}
	if mod != nil {
		mod(&d)
	}
	return d
}

func svcWith(base ipvs.Service, mod func(*ipvs.Service)) ipvs.Service {
	mod(&base)
	return base
}

func errorCases() []errorCase {
	return []errorCase{
		{"add existing service", func(k ipvs.Kernel) error { return k.AddService(v4Svc) }, unix.EEXIST},
		{"add existing service, other parameters", func(k ipvs.Kernel) error {
			return k.AddService(svcWith(v4Svc, func(s *ipvs.Service) { s.Scheduler = "wlc"; s.Timeout = 10 }))
		}, unix.EEXIST},
		{"update missing service", func(k ipvs.Kernel) error { return k.UpdateService(ipvs.Service{Key: missingKey, Scheduler: "rr"}) }, unix.ESRCH},
		{"delete missing service", func(k ipvs.Kernel) error { return k.DeleteService(missingKey) }, unix.ESRCH},
		{"delete missing fwmark service", func(k ipvs.Kernel) error {
			return k.DeleteService(ipvs.Key{Family: ipvs.IPv4, FWMark: 7})
		}, unix.ESRCH},
		{"delete service of the other family", func(k ipvs.Kernel) error {
			return k.DeleteService(ipvs.Key{Family: ipvs.IPv6, FWMark: 0, Address: netip.MustParseAddr("::ffff:192.0.2.1"), Protocol: ipvs.UDP, Port: 80})
		}, unix.EAFNOSUPPORT},
		{"add with unknown scheduler", func(k ipvs.Kernel) error {
			return k.AddService(ipvs.Service{Key: missingKey, Scheduler: "nosuch"})
		}, unix.ENOENT},
		{"add with empty scheduler", func(k ipvs.Kernel) error { return k.AddService(ipvs.Service{Key: missingKey}) }, unix.ENOENT},
		{"update to unknown scheduler", func(k ipvs.Kernel) error {
			return k.UpdateService(svcWith(v4Svc, func(s *ipvs.Service) { s.Scheduler = "nosuch" }))
		}, unix.ENOENT},
		{"add with unknown persistence engine", func(k ipvs.Kernel) error {
			return k.AddService(ipvs.Service{Key: missingKey, Scheduler: "rr", Timeout: 10, PEName: "nosuch"})
		}, unix.ENOENT},
		{"IPv4 netmask too long", func(k ipvs.Kernel) error {
			return k.AddService(ipvs.Service{Key: missingKey, Scheduler: "rr", Timeout: 10, Netmask: 33})
		}, unix.EINVAL},
		{"IPv6 netmask too long", func(k ipvs.Kernel) error {
			return k.UpdateService(svcWith(v6Svc, func(s *ipvs.Service) { s.Timeout, s.Netmask = 10, 129 }))
		}, unix.EINVAL},
		{"key family does not match address", func(k ipvs.Kernel) error {
			return k.AddService(svcWith(v4Svc, func(s *ipvs.Service) { s.Family = ipvs.IPv6 }))
		}, unix.EAFNOSUPPORT},
		{"read real servers of missing service", func(k ipvs.Kernel) error { _, err := k.GetDestinations(missingKey); return err }, unix.ESRCH},
		{"read real servers of missing fwmark service", func(k ipvs.Kernel) error {
			_, err := k.GetDestinations(ipvs.Key{Family: ipvs.IPv6, FWMark: 7})
			return err
		}, unix.ESRCH},
		{"read real servers of the same address, other protocol", func(k ipvs.Kernel) error {
			_, err := k.GetDestinations(ipvs.Key{Family: ipvs.IPv4, Address: v4Key.Address, Protocol: ipvs.UDP, Port: v4Key.Port})
			return err
		}, unix.ESRCH},
		{"read real servers of service of the other family", func(k ipvs.Kernel) error {
			_, err := k.GetDestinations(ipvs.Key{Family: ipvs.IPv6, Address: netip.MustParseAddr("::ffff:192.0.2.1"), Protocol: ipvs.TCP, Port: 80})
			return err
		}, unix.EAFNOSUPPORT},
		{"add real server to missing service", func(k ipvs.Kernel) error { return k.AddDestination(missingKey, v4Dest) }, unix.ESRCH},
		{"update real server in missing service", func(k ipvs.Kernel) error { return k.UpdateDestination(missingKey, v4Dest) }, unix.ESRCH},
		{"delete real server from missing service", func(k ipvs.Kernel) error {
			return k.DeleteDestination(missingKey, v4Dest.DestKey)
		}, unix.ESRCH},
		{"add existing real server", func(k ipvs.Kernel) error { return k.AddDestination(v4Key, v4Dest) }, unix.EEXIST},
		{"add existing real server, other weight", func(k ipvs.Kernel) error {
			return k.AddDestination(v6Key, destAt("2001:db8:be::1", func(d *ipvs.Destination) { d.Weight = 5 }))
		}, unix.EEXIST},
		{"update missing real server", func(k ipvs.Kernel) error { return k.UpdateDestination(v4Key, otherDest) }, unix.ENOENT},
		{"delete missing real server", func(k ipvs.Kernel) error { return k.DeleteDestination(v4Key, otherDest.DestKey) }, unix.ENOENT},
		{"delete real server on another port", func(k ipvs.Kernel) error {
			return k.DeleteDestination(v4Key, ipvs.DestKey{Address: v4Dest.Address, Port: 8081})
		}, unix.ENOENT},
		{"IPv6 real server in IPv4 service", func(k ipvs.Kernel) error { return k.AddDestination(v4Key, v6Dest) }, unix.EAFNOSUPPORT},
		{"IPv4 tunnel real server in IPv6 service", func(k ipvs.Kernel) error {
			return k.AddDestination(v6Key, destAt("10.1.0.7", func(d *ipvs.Destination) { d.Forwarding = ipvs.Tunnel }))
		}, unix.EAFNOSUPPORT},
		{"negative weight", func(k ipvs.Kernel) error {
			return k.AddDestination(v4Key, destAt("10.1.0.7", func(d *ipvs.Destination) { d.Weight = -1 }))
		}, unix.ERANGE},
		{"negative weight on update", func(k ipvs.Kernel) error {
			return k.UpdateDestination(v4Key, destAt("10.1.0.1", func(d *ipvs.Destination) { d.Weight = -1 }))
		}, unix.ERANGE},
		{"lower threshold above upper", func(k ipvs.Kernel) error {
			return k.AddDestination(v4Key, destAt("10.1.0.7", func(d *ipvs.Destination) { d.UpperThreshold, d.LowerThreshold = 10, 20 }))
		}, unix.ERANGE},
		{"lower threshold without upper", func(k ipvs.Kernel) error {
			return k.UpdateDestination(v4Key, destAt("10.1.0.1", func(d *ipvs.Destination) { d.LowerThreshold = 5 }))
		}, unix.ERANGE},
		{"limits are checked before existence", func(k ipvs.Kernel) error {
			return k.AddDestination(v4Key, destAt("10.1.0.1", func(d *ipvs.Destination) { d.Weight = -1 }))
		}, unix.ERANGE},
		{"multicast real server", func(k ipvs.Kernel) error { return k.AddDestination(v4Key, destAt("224.0.0.1", nil)) }, unix.EINVAL},
		{"unspecified real server", func(k ipvs.Kernel) error { return k.AddDestination(v4Key, destAt("0.0.0.0", nil)) }, unix.EINVAL},
		{"broadcast real server", func(k ipvs.Kernel) error { return k.AddDestination(v4Key, destAt("255.255.255.255", nil)) }, unix.EINVAL},
		{"IPv6 multicast real server", func(k ipvs.Kernel) error { return k.AddDestination(v6Key, destAt("ff02::1", nil)) }, unix.EINVAL},
		{"IPv6 link-local real server", func(k ipvs.Kernel) error { return k.AddDestination(v6Key, destAt("fe80::1", nil)) }, unix.EINVAL},
		{"unknown forwarding method", func(k ipvs.Kernel) error {
			return k.AddDestination(v4Key, destAt("10.1.0.7", func(d *ipvs.Destination) { d.Forwarding = 4 }))
		}, unix.EINVAL},
	}
}

func testErrors(t *testing.T, newKernel NewKernel) {
	for _, tc := range errorCases() {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t)
			must(t, k.AddService(v4Svc))
			must(t, k.AddService(v6Svc))
			must(t, k.AddDestination(v4Key, v4Dest))
			must(t, k.AddDestination(v6Key, v6Dest))
			want := expectTable(
				ipvs.ServiceConfig{Service: v4Svc, Destinations: []ipvs.Destination{v4Dest}},
				ipvs.ServiceConfig{Service: v6Svc, Destinations: []ipvs.Destination{v6Dest}})

			err := tc.call(k)
			if !errors.Is(err, tc.want) {
				t.Errorf("got error %v, want one wrapping %v (%d)", err, tc.want, int(tc.want))
			}
			checkTable(t, k, "after the failed call", want)
		})
	}
}

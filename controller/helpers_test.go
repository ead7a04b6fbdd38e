package controller_test

import (
	"maps"
	"net/netip"
	"path/filepath"

	"github.com/ipvsd/ipvsd/controller"
	"github.com/ipvsd/ipvsd/ipvs"
)

func key(proto ipvs.Protocol, addrPort string) ipvs.Key {
	ap := netip.MustParseAddrPort(addrPort)
	return ipvs.Key{Family: ipvs.FamilyOf(ap.Addr()), Address: ap.Addr(), Protocol: proto, Port: ap.Port()}
}

func tcp(addrPort string) ipvs.Key { return key(ipvs.TCP, addrPort) }
func udp(addrPort string) ipvs.Key { return key(ipvs.UDP, addrPort) }

func dest(addrPort string, weight int) ipvs.Destination {
	ap := netip.MustParseAddrPort(addrPort)
	return ipvs.Destination{DestKey: ipvs.DestKey{Address: ap.Addr(), Port: ap.Port()}, Weight: weight}
}

func vserver(k ipvs.Key, sched string, dests ...ipvs.Destination) controller.VirtualServer {
	return controller.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: sched}, Owner: "test", Destinations: dests}
}

func actual(k ipvs.Key, sched string, dests ...ipvs.Destination) *ipvs.ServiceWithDests {
	return &ipvs.ServiceWithDests{Service: ipvs.Service{Key: k, Scheduler: sched}, Destinations: dests}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func recordsEqual(a, b controller.Record) bool {
	return maps.Equal(a.Services, b.Services) && maps.Equal(a.Addresses, b.Addresses)
}

func dirOf(p string) string { return filepath.Dir(p) }

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

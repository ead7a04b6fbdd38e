package desiredtest

import (
	"net/netip"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Key is the virtual server key of proto on addrPort.
func Key(proto ipvs.Protocol, addrPort string) ipvs.Key {
	ap := netip.MustParseAddrPort(addrPort)
	return ipvs.Key{Family: ipvs.FamilyOf(ap.Addr()), Address: ap.Addr(), Protocol: proto, Port: ap.Port()}
}

// TCP is Key(ipvs.TCP, addrPort).
func TCP(addrPort string) ipvs.Key { return Key(ipvs.TCP, addrPort) }

// UDP is Key(ipvs.UDP, addrPort).
func UDP(addrPort string) ipvs.Key { return Key(ipvs.UDP, addrPort) }

// Dest is a masqueraded real server with the given weight.
func Dest(addrPort string, weight int) ipvs.Destination {
	ap := netip.MustParseAddrPort(addrPort)
	return ipvs.Destination{DestKey: ipvs.DestKey{Address: ap.Addr(), Port: ap.Port()}, Weight: weight}
}

// VServer is a desired virtual server owned by "test".
func VServer(k ipvs.Key, sched string, dests ...ipvs.Destination) desired.VirtualServer {
	return desired.VirtualServer{Service: ipvs.Service{Key: k, Scheduler: sched}, Owner: "test", Destinations: dests}
}

// Actual is a virtual server as it was written (a dump's Config).
func Actual(k ipvs.Key, sched string, dests ...ipvs.Destination) *ipvs.ServiceConfig {
	return &ipvs.ServiceConfig{Service: ipvs.Service{Key: k, Scheduler: sched}, Destinations: dests}
}

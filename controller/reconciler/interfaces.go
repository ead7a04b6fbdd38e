package reconciler

import "net/netip"

// AddressBinder manages VIP addresses on ipvsd's dummy link. It lists only
// what the reconciler uses, so netlinkutil's type satisfies it directly and
// tests use the stateful fake in reconcilertest.
type AddressBinder interface {
	// Addresses returns the addresses on ipvsd's dummy link.
	Addresses() (map[netip.Addr]bool, error)
	// LocalAddresses returns the addresses on any link, dummy included.
	LocalAddresses() (map[netip.Addr]bool, error)
	AddAddress(netip.Addr) error
	DelAddress(netip.Addr) error
}

// ConntrackCleaner removes UDP conntrack entries that still point a client
// at a deleted real server: without this, a client that keeps sending
// (DNS, syslog) keeps hitting the old backend until its entry expires.
type ConntrackCleaner interface {
	DeleteUDP(vip netip.Addr, vport uint16, backend netip.Addr, bport uint16) (int, error)
}

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
	// AddAddresses binds each address and returns each one's error (nil:
	// bound), in as few kernel round trips as it can: one address's
	// failure (EEXIST, say) does not fail the others.
	AddAddresses([]netip.Addr) []error
	// DelAddresses unbinds each address, each with its own error
	// (EADDRNOTAVAIL for one not there).
	DelAddresses([]netip.Addr) []error
}

// ConntrackCleaner removes UDP conntrack entries that still point a client
// at a deleted real server: without this, a client that keeps sending
// (DNS, syslog) keeps hitting the old backend until its entry expires.
type ConntrackCleaner interface {
	DeleteUDP(vip netip.Addr, vport uint16, backend netip.Addr, bport uint16) (int, error)
}

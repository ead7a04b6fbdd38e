package reconciler

import "net/netip"

// AddressBinder manages VIP addresses on ipvsd's dummy link. It lists only
// what the reconciler uses, so netlinkutil's type satisfies it directly and
// tests use the stateful fake in reconcilertest.
type AddressBinder interface {
	// ListAddresses lists the host's addresses, those on ipvsd's dummy
	// link apart from the others, in one listing: two (the link's, then
	// every link's) were 8 ms of the first slice of a full resync at
	// 10,000 Services natively, and could disagree.
	ListAddresses() (AddressListing, error)
	// AddAddresses binds each address and returns each one's error (nil:
	// bound), in as few kernel round trips as it can: one address's
	// failure (EEXIST, say) does not fail the others.
	AddAddresses([]netip.Addr) []error
	// DelAddresses unbinds each address, each with its own error
	// (EADDRNOTAVAIL for one not there).
	DelAddresses([]netip.Addr) []error
}

// AddressListing is the host's addresses as one listing found them.
type AddressListing struct {
	OnLink    map[netip.Addr]bool // on ipvsd's dummy link
	Elsewhere map[netip.Addr]bool // on any other link
}

// ConntrackCleaner removes UDP conntrack entries that still point a client
// at a deleted real server: without this, a client that keeps sending
// (DNS, syslog) keeps hitting the old backend until its entry expires.
type ConntrackCleaner interface {
	DeleteUDP(vip netip.Addr, vport uint16, backend netip.Addr, bport uint16) (int, error)
}

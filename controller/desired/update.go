package desired

import (
	"net/netip"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Update is a change to the desired state, for sources that know what
// changed: a Kubernetes event touching one Service, the diff of a reloaded
// file. Apply normalizes and validates only what it names, so its cost
// follows the size of the change, not of the table.
type Update struct {
	// Set adds virtual servers to the desired state or replaces them,
	// matched by key.
	Set []VirtualServer
	// Delete removes virtual servers from the desired state. Deletes are
	// applied before sets, so an Update that deletes and sets one key
	// sets it.
	Delete []ipvs.Key
	// Addresses replaces the desired VIP set when SetAddresses is true;
	// otherwise the set is left as it is.
	Addresses    []netip.Addr
	SetAddresses bool
	// HandedOver says the caller gives Set's real-server slices up: it
	// will neither change nor read them again, so the reconciler keeps
	// a slice that is normalized already (sorted, canonical) as it is
	// instead of a copy. A source that translates each change afresh
	// then holds its real servers once, not twice (issue 15).
	HandedOver bool
}

package ipvstest

import (
	"fmt"

	"github.com/ipvsd/ipvsd/ipvs"
)

// GetService returns one virtual server with its real servers, as
// ipvs.Handle.GetService does; ESRCH if there is no such service. It is
// counted, and fails, as a GetDestinations call: like the handle's, it is
// a read of that one service (the handle's GET_SERVICE request comes with
// the same GET_DEST dump).
func (f *Fake) GetService(k ipvs.Key) (ipvs.ServiceWithDests, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	ds, err := f.getDestinations(k)
	if err != nil {
		return ipvs.ServiceWithDests{}, fmt.Errorf("reading virtual server %s: %w", k, err)
	}
	fs := f.services[k]
	return ipvs.ServiceWithDests{Service: fs.svc, Stats: fs.stats, Destinations: ds}, nil
}

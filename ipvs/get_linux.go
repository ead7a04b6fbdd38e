package ipvs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// GetService returns one virtual server with its real servers and
// counters, reading only that service (one GET_SERVICE request and one
// GET_DEST dump), as `ipvsadm -L -t ...` does. It fails with ESRCH if the
// service does not exist.
func (h *Handle) GetService(k Key) (ServiceWithDests, error) {
	k = k.Canonical()
	if err := validateKey(k); err != nil {
		return ServiceWithDests{}, fmt.Errorf("reading virtual server %s: %w", k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs, err := h.genl.ipvs(ipvsCmdGetService, 0, serviceKeyAttr(k))
	if err != nil {
		return ServiceWithDests{}, fmt.Errorf("reading virtual server %s: %w", k, err)
	}
	if len(msgs) != 1 {
		return ServiceWithDests{}, fmt.Errorf("reading virtual server %s: %d replies: %w", k, len(msgs), unix.ESRCH)
	}
	nest, err := nestedValue(msgs[0], ipvsCmdAttrService)
	if err != nil {
		return ServiceWithDests{}, fmt.Errorf("parsing virtual server %s: %w", k, err)
	}
	s, err := parseService(nest)
	if err != nil {
		return ServiceWithDests{}, fmt.Errorf("parsing virtual server %s: %w", k, err)
	}
	dests, err := h.genl.dumpDests(s.Key, true)
	if err != nil {
		return ServiceWithDests{}, err
	}
	s.Destinations = dests
	return s, nil
}

package ipvs

import (
	"fmt"

	mobyipvs "github.com/moby/ipvs"
)

var _ TimeoutConfig = (*Handle)(nil)

// Timeouts reads the kernel's IPVS timeouts (IPVS_CMD_GET_CONFIG).
func (h *Handle) Timeouts() (Timeouts, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.moby.GetConfig()
	if err != nil {
		return Timeouts{}, fmt.Errorf("reading IPVS timeouts: %w", err)
	}
	return Timeouts{TCP: c.TimeoutTCP, TCPFin: c.TimeoutTCPFin, UDP: c.TimeoutUDP}, nil
}

// SetTimeouts writes them (IPVS_CMD_SET_CONFIG); a zero value is kept.
func (h *Handle) SetTimeouts(t Timeouts) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.moby.SetConfig(&mobyipvs.Config{TimeoutTCP: t.TCP, TimeoutTCPFin: t.TCPFin, TimeoutUDP: t.UDP}); err != nil {
		return fmt.Errorf("setting IPVS timeouts (%s): %w", t, err)
	}
	return nil
}

package bgp

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is what `ipvsd status` shows: the daemon serves it as JSON.
type Status struct {
	// Enabled: the config has a bgp: section.
	Enabled  bool   `json:"enabled"`
	ASN      uint32 `json:"asn,omitempty"`
	RouterID string `json:"routerID,omitempty"`
	// Ready: the first sync has programmed the kernel, so routes may be
	// announced.
	Ready     bool           `json:"ready"`
	Peers     []PeerReport   `json:"peers"`
	Announced []netip.Prefix `json:"announced"`
}

// PeerReport is one peer's line in Status.
type PeerReport struct {
	PeerStatus
	// Flaps counts sessions that were established and went down.
	Flaps uint64 `json:"flaps"`
}

// Status reports the configuration, the sessions and the routes.
func (a *Announcer) Status(ctx context.Context) (Status, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{Ready: a.ready, Announced: slices.Clone(a.announced), Peers: []PeerReport{}}
	if st.Announced == nil {
		st.Announced = []netip.Prefix{}
	}
	if a.cfg == nil {
		return st, nil
	}
	st.Enabled, st.ASN, st.RouterID = true, a.cfg.ASN, a.cfg.RouterID.String()
	var live []PeerStatus
	var err error
	if a.started {
		live, err = a.speaker.Peers(ctx)
	}
	a.pmu.Lock()
	defer a.pmu.Unlock()
	for _, p := range a.cfg.Peers {
		r := PeerReport{PeerStatus: PeerStatus{Address: p.Address, ASN: p.ASN, State: StateWaiting}, Flaps: a.flaps[p.Address]}
		if i := slices.IndexFunc(live, func(l PeerStatus) bool { return l.Address == p.Address }); i >= 0 {
			r.PeerStatus = live[i]
		}
		st.Peers = append(st.Peers, r)
	}
	return st, err
}

// Render writes st as text for an operator.
func Render(w io.Writer, st Status, now time.Time) error {
	var b strings.Builder
	if !st.Enabled {
		b.WriteString("BGP: off (no bgp: section in the config)\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "BGP: AS %d, router ID %s", st.ASN, st.RouterID)
	if !st.Ready {
		b.WriteString(", waiting for the first sync (nothing announced)")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Peer\tAS\tState\tFor\tGraceful restart\tFlaps")
	for _, p := range st.Peers {
		since := "-"
		if !p.Since.IsZero() {
			since = now.Sub(p.Since).Truncate(time.Second).String()
		}
		gr := "no"
		if p.GracefulRestart {
			gr = "negotiated"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\n", p.Address, p.ASN, p.State, since, gr, p.Flaps)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "Announced routes: %d\n", len(st.Announced))
	for _, p := range st.Announced {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Link is kube-ipvs0 (netlinkutil.Dummy): its addresses, ENODEV when
// there is no such link, and its deletion.
type Link interface {
	Addresses() ([]netip.Prefix, error)
	Delete() (bool, error)
}

// Read gathers kube-proxy's bookkeeping: kube-ipvs0's addresses and
// kube-proxy's ipsets. Both are needed to tell its virtual servers from
// anyone else's, so a failure to read either is an error.
func Read(ctx context.Context, link Link, sets firewall.IPSet) (Bookkeeping, error) {
	b := Bookkeeping{LinkAddrs: map[netip.Addr]bool{}}
	ps, err := link.Addresses()
	switch {
	case errors.Is(err, unix.ENODEV):
	case err != nil:
		return b, fmt.Errorf("reading %s: %w", LinkName, err)
	default:
		b.Link = true
		for _, p := range ps {
			b.LinkAddrs[p.Addr()] = true
		}
	}
	b.Sets, err = firewall.ReadKubeProxySets(ctx, sets)
	if err != nil {
		return b, fmt.Errorf("reading kube-proxy's ipsets: %w", err)
	}
	return b, nil
}

// Keys are the keys of a dumped table.
func Keys(table []ipvs.ServiceWithDests) []ipvs.Key {
	out := make([]ipvs.Key, len(table))
	for i, s := range table {
		out[i] = s.Key
	}
	return out
}

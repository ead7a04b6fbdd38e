package firewall

import (
	"context"
	"fmt"

	"github.com/coreos/go-iptables/iptables"

	"github.com/ipvsd/ipvsd/ipvs"
)

// IPTables reads and writes one family's rules in one back-end. New uses
// the iptables-save and iptables-restore binaries; tests pass a fake
// (firewalltest.Host) to NewWithTools.
type IPTables interface {
	// Save prints one table, as iptables-save -t does.
	Save(ctx context.Context, table string) (string, error)
	// Restore applies iptables-restore --noflush input: only the chains
	// it declares are flushed, everything else stays as it is.
	Restore(ctx context.Context, text string) error
}

type iptablesBinaries struct {
	x             Exec
	save, restore string
}

// newIPTablesBinaries resolves a mode's save and restore tools, under
// whichever names are installed, and asks go-iptables whether MASQUERADE
// takes --random-fully there.
func newIPTablesBinaries(ctx context.Context, x Exec, m Mode, f ipvs.Family) (iptablesBinaries, RenderOptions, error) {
	found, err := FindBinaries(ctx, x, m, f)
	if err != nil {
		return iptablesBinaries{}, RenderOptions{}, err
	}
	b := iptablesBinaries{x: x, save: found.Save, restore: found.Restore}
	proto := iptables.ProtocolIPv4
	if f == ipvs.IPv6 {
		proto = iptables.ProtocolIPv6
	}
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Path(found.IPTables))
	if err != nil {
		return b, RenderOptions{}, fmt.Errorf("iptables %s %s: %w", m, f, err)
	}
	return b, RenderOptions{RandomFully: ipt.HasRandomFully()}, nil
}

func (b iptablesBinaries) Save(ctx context.Context, table string) (string, error) {
	out, err := b.x.Run(ctx, "", b.save, "-t", table)
	if err != nil {
		return "", fmt.Errorf("listing table %s: %w", table, err)
	}
	return out, nil
}

func (b iptablesBinaries) Restore(ctx context.Context, text string) error {
	// -w: legacy iptables serialises writers on the xtables lock; wait
	// for it instead of failing when kubelet or Calico holds it.
	if _, err := b.x.Run(ctx, text, b.restore, "-w", "5", "--noflush"); err != nil {
		return fmt.Errorf("restoring our chains: %w", err)
	}
	return nil
}

//go:build lab

package syncd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

var nsCount atomic.Int32

// newSyncNS is a fresh network namespace (its IPVS table and sync daemons
// start empty) with a link sync0 up, with an address, at the usual MTU.
func newSyncNS(t *testing.T) *nettest.NS {
	t.Helper()
	n := nsCount.Add(1)
	ns := nettest.NewNS(t, fmt.Sprintf("syncd%d", n))
	err := ns.Netlink(func(h *netlink.Handle) error {
		if err := h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "sync0", MTU: 1500}}); err != nil {
			return err
		}
		l, err := h.LinkByName("sync0")
		if err != nil {
			return err
		}
		// An IPv4 address to bind a master's socket to, and an IPv6 one
		// (without duplicate address detection, so usable at once) for a
		// daemon on an IPv6 group.
		for _, cidr := range []string{fmt.Sprintf("10.59.%d.1/24", n), fmt.Sprintf("fd00:59:%d::1/64", n)} {
			a, err := netlink.ParseAddr(cidr)
			if err != nil {
				return err
			}
			if a.IP.To4() == nil {
				a.Flags = 0x02 // IFA_F_NODAD
			}
			if err := h.AddrAdd(l, a); err != nil {
				return err
			}
		}
		return h.LinkSetUp(l)
	})
	if err != nil {
		t.Fatalf("netns %s: sync0: %v", ns.Name, err)
	}
	return ns
}

// writeConfig writes a standalone config into the test's directory.
func writeConfig(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// recordIn is an ownership record path of its own for one director: the
// sync daemon record goes beside it, so two directors never share one.
func recordIn(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "run", "state.json")
}

package reconciler_test

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/ipvsd/ipvsd/controller/runstate"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func recordsEqual(a, b runstate.Record) bool { return a.Equal(b) }

func dirOf(p string) string { return filepath.Dir(p) }

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package standalone

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/internal/golden"
	"github.com/ipvsd/ipvsd/ipvs"
)

func loadExample(t *testing.T) *config.Config {
	t.Helper()
	c, _, err := config.Load("../../../examples/standalone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render prints a translation as golden text: the virtual servers as
// ipvsadm -Ln would list them, the VIPs, the firewall's view and the notes.
func render(d desired.State, fw firewall.Desired, n Notes) string {
	var svcs []ipvs.ServiceWithDests
	var b strings.Builder
	for _, vs := range d.Services {
		svcs = append(svcs, ipvs.ServiceWithDests{Service: vs.Service.Canonical(), Destinations: ipvs.Listed(vs.Destinations)})
		fmt.Fprintf(&b, "owner %s: %s drain=%v\n", vs.Owner, vs.Key, vs.DrainTimeout)
	}
	b.WriteString(ipvs.RenderString(svcs, ipvs.RenderOptions{Order: ipvs.OrderKey, Info: ipvs.Info{Version: 0x010201, ConnTabSize: 4096}}))
	fmt.Fprintf(&b, "addresses: %v\n", d.Addresses)
	fmt.Fprintf(&b, "firewall: masqueradeAll=%t\n", fw.MasqueradeAll)
	for _, s := range fw.Services {
		fmt.Fprintf(&b, "  %s %s endpoints=%t\n", s.Kind, s.Key, s.HasEndpoints)
	}
	fmt.Fprintf(&b, "below quorum: %v\nsorry: %v\n", n.BelowQuorum, n.Sorry)
	return b.String()
}

func down(ids ...string) UpFunc {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return func(id probe.ID) bool { return !set[id.String()] }
}

// TestTranslateGolden walks the example through health states, in order,
// with one translator: the quorum memory carries from step to step.
func TestTranslateGolden(t *testing.T) {
	c := loadExample(t)
	tr := NewTranslator()
	steps := []struct {
		name string
		up   UpFunc
	}{
		{"all-up", down()},
		{"web-be1-down", down("web/10.100.1.2:8080")},
		{"web-all-down-sorry", down("web/10.100.1.2:8080", "web/10.100.2.2:8080")},
		{"sticky-below-quorum", down("sticky/10.100.2.2:8080")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			d, fw, n := tr.Translate(c, st.up)
			checkGolden(t, "translate-"+st.name, render(d, fw, n))
		})
	}
}

func TestTranslateRemoveAndForwarding(t *testing.T) {
	c, err := config.Parse([]byte(`
masquerade: local
services:
  - name: dr
    vip: 192.0.2.20
    port: 443
    forwarding: dr
    scheduler: wlc
    healthCheck: {type: tcp, onFailure: remove}
    backends:
      - address: 10.0.0.1
      - address: 10.0.0.2
        forwarding: tun
  - name: nat6
    vip: "2001:db8::10"
    port: 53
    protocol: udp
    scheduler: rr
    backends: [{address: "2001:db8:1::1", weight: 0}, {address: "2001:db8:1::2", port: 5353}]
  - name: marked
    fwmark: 7
    scheduler: mh
    schedulerFlags: [mh-fallback, mh-port]
    backends: [{address: 10.0.0.7}]
`))
	if err != nil {
		t.Fatal(err)
	}
	d, fw, n := NewTranslator().Translate(c, down("dr/10.0.0.1:443"))
	checkGolden(t, "translate-remove-dr-tun-fwmark", render(d, fw, n))
	if got := d.Addresses; !cmp.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.20"), netip.MustParseAddr("2001:db8::10")}, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })) {
		t.Errorf("addresses: %v", got)
	}
}

func mustAddr(s string) netip.Addr         { return netip.MustParseAddr(s) }
func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// checkGolden compares got with its file under testdata/ (see internal/golden).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".golden"), got)
}

package ipvs

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// procConns is /proc/net/ip_vs_conn as the kernel writes it: IPv4 in hex,
// IPv6 in full, a template ("IP"), a SIP persistence engine entry.
const procConns = `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0AC80002 A1B2 0A60000A 0050 0A640102 1F90 ESTABLISHED     899
UDP 0AC80002 C000 0A60000B 0035 0A640202 14E9 UDP             299
IP  0AC80002 0000 0A60000A 2328 0A640102 2328 NONE            59
UDP 0AC80002 13C4 0A60000C 13C4 0A640102 13C4 UDP             120 sip abc@example
TCP 2001:0db8:0000:0000:0000:0000:0000:0002 D431 2001:0db8:0000:0000:0000:0000:0000:0010 01BB 2001:0db8:0001:0000:0000:0000:0000:0002 01BB SYN_RECV         59
`

func TestParseAndRenderConnections(t *testing.T) {
	conns, err := ParseConnections(strings.NewReader(procConns))
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 5 {
		t.Fatalf("parsed %d connections, want 5", len(conns))
	}
	wantFirst := Connection{Protocol: "TCP", Client: netip.MustParseAddrPort("10.200.0.2:41394"), Virtual: netip.MustParseAddrPort("10.96.0.10:80"),
		Destination: netip.MustParseAddrPort("10.100.1.2:8080"), State: "ESTABLISHED", Expires: 899}
	if diff := cmp.Diff(wantFirst, conns[0], cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("first entry (-want +got):\n%s", diff)
	}

	var b strings.Builder
	if err := RenderConnections(&b, conns, nil, false); err != nil {
		t.Fatal(err)
	}
	want := `IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:59  ESTABLISHED 10.200.0.2:41394   10.96.0.10:80      10.100.1.2:8080
UDP 04:59  UDP         10.200.0.2:49152   10.96.0.11:53      10.100.2.2:5353
IP  00:59  NONE        10.200.0.2:0       10.96.0.10:9000    10.100.1.2:9000
UDP 02:00  UDP         10.200.0.2:5060    10.96.0.12:5060    10.100.1.2:5060
TCP 00:59  SYN_RECV    [2001:db8::2]:54321 [2001:db8::10]:443 [2001:db8:1::2]:443
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("-c -n (-want +got):\n%s", diff)
	}

	b.Reset()
	if err := RenderConnections(&b, conns[2:4], testNames, true); err != nil {
		t.Fatal(err)
	}
	want = `IPVS connection entries
pro expire state       source             virtual            destination        pe name          pe_data
IP  00:59  NONE        10.200.0.2:0       web:9000           10.100.1.2:9000
UDP 02:00  UDP         10.200.0.2:5060    10.96.0.12:5060    10.100.1.2:5060  sip                abc@example
`
	// ipvsadm gives the destination 16 columns and the engine 18 here.
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("-c --persistent-conn with names (-want +got):\n%s", diff)
	}
}

func TestParseConnectionsRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "heading\nTCP 0A 0050\n", "heading\nTCP zz 0050 0A 0050 0A 0050 NONE 1\n"} {
		if _, err := ParseConnections(strings.NewReader(in)); err == nil {
			t.Errorf("ParseConnections(%q) succeeded", in)
		}
	}
}

package ipvs

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// names is a fixed Names for the tests.
type names map[string]string

func (n names) Host(a netip.Addr) (string, bool) { s, ok := n[a.String()]; return s, ok }
func (n names) Service(port uint16, proto string) (string, bool) {
	s, ok := n[proto+"/"+itoa(port)]
	return s, ok
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}

var testNames = names{
	"10.96.0.10":    "web",
	"10.96.0.11":    "a-very-long-virtual-server-name.cluster.local",
	"10.0.0.1":      "real-server-with-a-name-far-too-long.example.org",
	"2001:db8::1":   "an-ipv6-name-long-enough-to-overflow-ipvsadms-sixty-byte-buffer.example",
	"tcp/80":        "http",
	"udp/53":        "domain",
	"sctp/3868":     "diameter",
	"tcp/8080":      "http-alt",
	"127.0.0.1":     "localhost",
	"192.0.2.1":     "doc",
	"2001:db8::10":  "web6",
	"2001:db8:1::2": "be1-v6",
}

func TestRenderWithNames(t *testing.T) {
	table := []ServiceWithDests{
		with(svc(TCP, "10.96.0.10:80", "rr"), dst("10.0.0.1:8080", Masquerade, 1), dst("127.0.0.1:80", Local, 1)),
		with(svc(UDP, "10.96.0.11:53", "wrr"), dst("192.0.2.1:53", DirectRoute, 2)),
		with(svc(SCTP, "[2001:db8::1]:3868", "lc"), dst("[2001:db8:1::2]:3868", Tunnel, 3)),
		with(fwm(IPv4, 5, "rr"), dst("10.0.0.1:80", Masquerade, 1)),
	}
	got := RenderString(table, RenderOptions{Info: labInfo, Order: OrderGiven, Names: testNames})
	want := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  web:http rr
  -> real-server-with-a-name-far- Masq    1      0          0         
  -> localhost:http               Local   1      0          0         
UDP  a-very-long-virtual-server-n wrr
  -> doc:domain                   Route   2      0          0         
SCTP [an-ipv6-name-long-enough-to-overflow-ipvsadms-sixty-byte-b lc
  -> [be1-v6]:diameter            Tunnel  3      0          0         
FWM  5 rr
  -> real-server-with-a-name-far- Masq    1      0          0         
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRenderServiceAndOwners(t *testing.T) {
	s := with(svc(TCP, "10.96.0.10:80", "rr"), dst("10.0.0.1:8080", Masquerade, 1))
	var b strings.Builder
	owner := func(k Key) string { return "default/web:http" }
	if err := RenderService(&b, s, RenderOptions{Info: labInfo, Format: FormatThresholds, Owner: owner}); err != nil {
		t.Fatal(err)
	}
	want := `Owner            Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
                   -> RemoteAddress:Port
default/web:http TCP  10.96.0.10:80 rr
                   -> 10.0.0.1:8080                0          0          0          0         
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPersistenceEngineOnlyWhenPersistent(t *testing.T) {
	got := serviceFlags(Service{Key: Key{Family: IPv4}, Scheduler: "rr", PEName: "sip"})
	if got != "" {
		t.Errorf("flags of a non-persistent service with a pe: %q, want none (as ipvsadm)", got)
	}
}

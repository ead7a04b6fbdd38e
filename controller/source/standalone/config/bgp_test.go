package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBGPValidation(t *testing.T) {
	cases := []struct {
		name string
		bgp  string
		want []string
	}{
		{"the issue's example", `
bgp:
  asn: 64512
  routerID: 10.11.1.2
  peers:
    - {address: 10.11.1.1, asn: 64500, holdTime: 3s}
  communities: []
`, nil},
		{"every field", `
bgp:
  asn: 4200000000
  peers:
    - {address: 10.11.1.1, asn: 64500, holdTime: 30s, port: 1179, password: s3cret, multihop: 2,
       sourceAddress: 10.11.1.2, gracefulRestart: false, restartTime: 30s}
    - {address: "2001:db8::1", asn: 64501}
  communities: ["64512:100", "0:65535"]
`, nil},
		{"empty section", "bgp: {}\n", []string{
			"bgp.asn: must be an AS number 1-4294967295",
			"bgp.peers: at least one peer is required",
		}},
		{"bad values", `
bgp:
  asn: 4294967296
  routerID: "2001:db8::2"
  peers:
    - {address: 10.11.1.300, asn: 0, holdTime: 2s, port: 70000, multihop: 256, sourceAddress: "2001:db8::2", restartTime: 5000s}
    - {asn: 1, holdTime: 1500ms, restartTime: 0s}
    - {address: 10.11.1.1, asn: 1, sourceAddress: "2001:db8::2"}
    - {address: 10.11.1.1, asn: 1, holdTime: soon, password: "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"}
  communities: ["64512", "64512:65536", "x:1"]
`, []string{
			"bgp.asn: must be an AS number 1-4294967295",
			`bgp.routerID: "2001:db8::2" is not an IPv4 address (a BGP router ID is 32 bits)`,
			`bgp.peers[0].address: "10.11.1.300" is not an IP address`,
			"bgp.peers[0].asn: must be an AS number 1-4294967295",
			"bgp.peers[0].holdTime: must be whole seconds, 3s-65535s, not 2s",
			"bgp.peers[0].port: must be 1-65535",
			"bgp.peers[0].multihop: must be a TTL 1-255 (0 or unset: directly connected)",
			"bgp.peers[0].restartTime: must be whole seconds, 1s-1h8m15s, not 1h23m20s",
			"bgp.peers[1].address: is required",
			"bgp.peers[1].holdTime: must be whole seconds, 3s-65535s, not 1.5s",
			"bgp.peers[1].restartTime: must be whole seconds, 1s-1h8m15s, not 0s",
			"bgp.peers[2].sourceAddress: 2001:db8::2 is not of the peer's address family",
			`bgp.peers[3].holdTime: "soon" is not a duration like 2s or 1m30s`,
			"bgp.peers[3].password: must be at most 80 bytes (the kernel's TCP MD5 key limit)",
			"bgp.peers[3].address: 10.11.1.1 is also bgp.peers[2]",
			`bgp.communities[0]: "64512" is not a community like 64512:100 (two numbers 0-65535)`,
			`bgp.communities[1]: "64512:65536" is not a community like 64512:100 (two numbers 0-65535)`,
			`bgp.communities[2]: "x:1" is not a community like 64512:100 (two numbers 0-65535)`,
		}},
		{"strict decoding", `
bgp:
  asn: "64512"
  peers:
    - {address: 10.11.1.1, asn: 64500, holdtime: 3s, gracefulRestart: maybe}
`, []string{
			`bgp.asn: want an integer, not the string "64512"`,
			`bgp.peers[0].gracefulRestart: want true or false, not the string "maybe"`,
			`unknown field "bgp.peers[0].holdtime"`,
		}},
		{"null section is none", "bgp:\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.bgp))
			if diff := cmp.Diff(tc.want, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBGPDefaultsAndAccessors(t *testing.T) {
	c, err := Parse([]byte(base + `
bgp:
  asn: 64512
  peers:
    - {address: "::ffff:10.11.1.1", asn: 64500}
    - {address: 10.11.1.9, asn: 64500, holdTime: 3s, gracefulRestart: false, sourceAddress: 10.11.1.2}
  communities: ["64512:100"]
`))
	if err != nil {
		t.Fatal(err)
	}
	b := c.BGP
	if b.RouterIDAddr().IsValid() {
		t.Errorf("router ID %s, want unset (found from the peering interface at start)", b.RouterIDAddr())
	}
	if diff := cmp.Diff([]uint32{64512<<16 | 100}, b.CommunityValues()); diff != "" {
		t.Errorf("communities (-want +got):\n%s", diff)
	}
	type peer struct {
		Addr, Source    netip.Addr
		Port            int
		Hold, Restart   time.Duration
		GracefulRestart bool
	}
	var got []peer
	for i := range b.Peers {
		p := &b.Peers[i]
		got = append(got, peer{p.Addr(), p.SourceAddr(), p.Port, p.HoldDuration(), p.RestartDuration(), *p.GracefulRestart})
	}
	want := []peer{
		{netip.MustParseAddr("10.11.1.1"), netip.Addr{}, 179, 90 * time.Second, 120 * time.Second, true},
		{netip.MustParseAddr("10.11.1.9"), netip.MustParseAddr("10.11.1.2"), 179, 3 * time.Second, 120 * time.Second, false},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("peers (-want +got):\n%s", diff)
	}
}

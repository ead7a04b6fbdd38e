package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvsd/ipvsd/ipvs"
)

func TestSyncSection(t *testing.T) {
	g := netip.MustParseAddr("239.0.0.81")
	for _, tc := range []struct {
		name string
		sync string
		want []string
		// daemons are what a valid section asks for.
		daemons []ipvs.SyncDaemon
	}{
		{name: "no section"},
		{name: "master", sync: "sync: {interface: eth1, syncID: 9, role: master}",
			daemons: []ipvs.SyncDaemon{{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 9}}},
		{name: "both with every setting", sync: "sync: {interface: eth1, role: both, maxLen: 1400, group: 239.0.0.81, port: 9000, ttl: 2}",
			daemons: []ipvs.SyncDaemon{
				{State: ipvs.SyncMaster, Interface: "eth1", MaxLen: 1400, Group: g, Port: 9000, TTL: 2},
				{State: ipvs.SyncBackup, Interface: "eth1", MaxLen: 1400, Group: g, Port: 9000, TTL: 2},
			}},
		{name: "backup, IPv6 group", sync: "sync: {interface: eth1, role: backup, group: 'ff02::81'}",
			daemons: []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth1", Group: netip.MustParseAddr("ff02::81")}}},
		{name: "empty section", sync: "sync: {}", want: []string{
			"sync.interface: is required",
			"sync.role: is required (master, backup or both)",
		}},
		{name: "every value wrong", sync: "sync: {interface: a/b, syncID: 256, role: primary, maxLen: 100, group: 192.0.2.1, port: 70000, ttl: 300}", want: []string{
			`sync.interface: "a/b" is not a Linux interface name (1-15 bytes, not . or .., no /, : or whitespace)`,
			"sync.syncID: must be 0-255",
			`sync.role: must be master, backup or both, not "primary"`,
			"sync.group: 192.0.2.1 is not a multicast address (224.0.0.0/4 or ff00::/8)",
			"sync.maxLen: must be 1024-65507 bytes (the kernel changes any other size)",
			"sync.port: must be 1-65535",
			"sync.ttl: must be 1-255",
		}},
		{name: "IPv6 group lowers the size limit", sync: "sync: {interface: eth1, role: master, maxLen: 65500, group: 'ff02::81'}", want: []string{
			"sync.maxLen: must be 1024-65487 bytes (the kernel changes any other size)",
		}},
		{name: "not an address", sync: "sync: {interface: eth1, role: master, group: multicast}", want: []string{
			`sync.group: "multicast" is not an IP address`,
		}},
		{name: "unknown and mistyped keys", sync: "sync: {interface: eth1, role: master, syncid: 3, ttl: one}", want: []string{
			"sync.ttl: want an integer, not the string \"one\"",
			`unknown field "sync.syncid"`,
		}},
		{name: "not a mapping", sync: "sync: master", want: []string{
			`sync: want a mapping, not the string "master"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base + tc.sync + "\n"))
			if diff := cmp.Diff(tc.want, errLines(err)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.daemons, cfg.SyncDaemons(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("SyncDaemons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSloppy(t *testing.T) {
	const sctp = "  - {name: diameter, vip: 192.0.2.11, port: 3868, protocol: sctp, backends: [{address: 10.0.0.3}]}\n"
	const sync = "sync: {interface: eth1, role: backup}\n"
	const bgp = "bgp: {asn: 64512, peers: [{address: 10.0.0.254, asn: 64500}]}\n"
	for _, tc := range []struct {
		name      string
		yaml      string
		tcp, sctp bool
	}{
		{"one director", base + sctp, false, false},
		{"sync, TCP only", base + sync, true, false},
		{"sync and an SCTP service", base + sctp + sync, true, true},
		{"bgp, TCP only", base + bgp, true, false},
		{"bgp and an SCTP service", base + sctp + bgp, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if tcp, sctp := cfg.Sloppy(); tcp != tc.tcp || sctp != tc.sctp {
				t.Errorf("Sloppy() = %v, %v; want %v, %v", tcp, sctp, tc.tcp, tc.sctp)
			}
		})
	}
}

package proxyconfig

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/kernelsettings"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

func TestKernelSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		ncpu int
		want kernelsettings.Settings
	}{
		{
			// kube-proxy's defaults: the table is max(32768 per CPU, 131072).
			name: "defaults, 4 CPUs", ncpu: 4,
			want: kernelsettings.Settings{Sysctls: []netlinkutil.Sysctl{
				{Name: "net.netfilter.nf_conntrack_max", Value: "131072"},
				{Name: "net.netfilter.nf_conntrack_tcp_timeout_established", Value: "86400"},
				{Name: "net.netfilter.nf_conntrack_tcp_timeout_close_wait", Value: "3600"},
			}, ConntrackHashsize: 32768},
		},
		{
			name: "everything set, 8 CPUs", ncpu: 8,
			file: `conntrack: {maxPerCore: 65536, min: 1, tcpEstablishedTimeout: 2h, tcpCloseWaitTimeout: 0s, tcpBeLiberal: true, udpTimeout: 30s, udpStreamTimeout: 2m}
ipvs: {strictARP: true, tcpTimeout: 15m, tcpFinTimeout: 30s, udpTimeout: 5s}
`,
			want: kernelsettings.Settings{Sysctls: []netlinkutil.Sysctl{
				{Name: "net.netfilter.nf_conntrack_max", Value: "524288"},
				{Name: "net.netfilter.nf_conntrack_tcp_timeout_established", Value: "7200"},
				{Name: "net.netfilter.nf_conntrack_tcp_be_liberal", Value: "1"},
				{Name: "net.netfilter.nf_conntrack_udp_timeout", Value: "30"},
				{Name: "net.netfilter.nf_conntrack_udp_timeout_stream", Value: "120"},
				{Name: "net.ipv4.conf.all.arp_ignore", Value: "1"},
				{Name: "net.ipv4.conf.all.arp_announce", Value: "2"},
			}, ConntrackHashsize: 131072, IPVS: ipvs.Timeouts{TCP: 15 * time.Minute, TCPFin: 30 * time.Second, UDP: 5 * time.Second}},
		},
		{
			// maxPerCore 0 leaves the table alone, whatever min says.
			name: "table left alone", ncpu: 2, file: "conntrack: {maxPerCore: 0, min: 500000, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}\n",
			want: kernelsettings.Settings{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, header+tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, KernelSettings(&c, tc.ncpu)); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFirewallMarks(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Marks
	}{
		{"", Marks{MasqueradeBit: 14, DropBit: 15, LocalMin: 0x1000, LocalMax: 0x3fff}},
		{"iptables: {masqueradeBit: 15}\n", Marks{MasqueradeBit: 15, DropBit: 14, LocalMin: 0x1000, LocalMax: 0x3fff}},
		{"iptables: {masqueradeBit: 20}\n", Marks{MasqueradeBit: 20, DropBit: 15, LocalMin: 0x1000, LocalMax: 0x3fff}},
		{"iptables: {masqueradeBit: 8}\n", Marks{MasqueradeBit: 8, DropBit: 15, LocalMin: 0x40, LocalMax: 0xff}},
	} {
		c, err := load(t, header+tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := FirewallMarks(&c); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.file, got, tc.want)
		}
	}
	if _, err := load(t, header+"iptables: {masqueradeBit: 1}\n"); err == nil {
		t.Error("masqueradeBit 1 accepted")
	}
}

func TestLocalInterface(t *testing.T) {
	for file, want := range map[string]string{
		"":                               "",
		"detectLocalMode: ClusterCIDR\n": "",
		"detectLocalMode: NodeCIDR\n":    "",
		"detectLocalMode: BridgeInterface\ndetectLocal: {bridgeInterface: cbr0}\n":         "cbr0",
		"detectLocalMode: InterfaceNamePrefix\ndetectLocal: {interfaceNamePrefix: veth}\n": "veth+",
	} {
		c, err := load(t, header+file)
		if err != nil {
			t.Fatal(err)
		}
		if got := LocalInterface(&c); got != want {
			t.Errorf("%q: %q, want %q", file, got, want)
		}
	}
}

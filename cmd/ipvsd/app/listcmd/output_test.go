package listcmd

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/ipvsd/ipvsd/controller/runstate"
	"github.com/ipvsd/ipvsd/internal/golden"
	"github.com/ipvsd/ipvsd/ipvs"
)

// table is a kernel with one of each kind of virtual server and real
// server, every counter set, so the golden files show every field.
func table() (fakeKernel, runstate.Record) {
	stats := func(n uint64) ipvs.Stats {
		return ipvs.Stats{Conns: n, InPkts: n + 1, OutPkts: n + 2, InBytes: n + 3, OutBytes: n + 4,
			CPS: n + 5, InPPS: n + 6, OutPPS: n + 7, InBPS: n + 8, OutBPS: 1<<64 - 1}
	}
	dest := func(ap string, w int, fwd ipvs.Forwarding, n uint32) ipvs.DestinationState {
		a := netip.MustParseAddrPort(ap)
		return ipvs.DestinationState{
			Destination: ipvs.Destination{DestKey: ipvs.DestKey{Address: a.Addr(), Port: a.Port()}, Weight: w, Forwarding: fwd,
				UpperThreshold: n * 10, LowerThreshold: n},
			ActiveConns: n + 1, InactiveConns: n + 2, PersistConns: n + 3, Stats: new(stats(uint64(n))),
		}
	}
	web := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.10"), Protocol: ipvs.TCP, Port: 80}
	dns := ipvs.Key{Family: ipvs.IPv6, Address: netip.MustParseAddr("2001:db8::1"), Protocol: ipvs.UDP, Port: 53}
	sip := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.11"), Protocol: ipvs.SCTP, Port: 5060}
	mark := ipvs.Key{Family: ipvs.IPv6, FWMark: 7}
	ssh := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.9"), Protocol: ipvs.TCP, Port: 22}
	k := fakeKernel{
		{Service: ipvs.Service{Key: web, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 24}, Stats: stats(100),
			Destinations: []ipvs.DestinationState{dest("10.100.1.2:8080", 1, ipvs.Masquerade, 1), dest("10.100.2.2:8080", 0, ipvs.DirectRoute, 0)}},
		// Not persistent: the kernel's netmask means nothing and is left out.
		{Service: ipvs.Service{Key: dns, Scheduler: "wrr", Flags: ipvs.FlagOnePacket, Netmask: 128}, Stats: stats(200),
			Destinations: []ipvs.DestinationState{dest("[2001:db8::10]:53", 2, ipvs.Tunnel, 2)}},
		{Service: ipvs.Service{Key: sip, Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSHPort, Timeout: 60, Netmask: 32, PEName: "sip"},
			Destinations: []ipvs.DestinationState{dest("127.0.0.1:5060", 1, ipvs.Local, 3)}},
		{Service: ipvs.Service{Key: mark, Scheduler: "mh", Flags: ipvs.FlagMHFallback, Netmask: 128}},
		{Service: ipvs.Service{Key: ssh, Scheduler: "lc"}, Destinations: []ipvs.DestinationState{}},
	}
	rec := runstate.NewRecord()
	rec.Services[web], rec.Services[dns], rec.Services[sip], rec.Services[mark] = "web", "kube-system/kube-dns:dns", "", "ns/marked:x"
	return k, rec
}

// TestMachineReadableGolden pins `ipvsd list -o json|yaml` byte for byte:
// scripts parse it.
func TestMachineReadableGolden(t *testing.T) {
	k, rec := table()
	dir := t.TempDir()
	store := runstate.OwnershipStore{Path: filepath.Join(dir, "state.json")}
	if err := store.Save(rec); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"list.json", Options{Output: "json"}},
		{"list-owners.json", Options{Output: "json", Owners: true}},
		{"list-owners.yaml", Options{Output: "yaml", Owners: true}},
		{"list-nosort.json", Options{Output: "json", NoSort: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			tc.opts.Numeric, tc.opts.RunDir = true, dir
			if err := Run(tc.opts, Deps{Kernel: func() (Kernel, error) { return k, nil }}, &out, &errb); err != nil || errb.Len() != 0 {
				t.Fatalf("%v, stderr %q", err, errb.String())
			}
			golden.Check(t, filepath.Join("testdata", tc.name), out.String())
		})
	}
}

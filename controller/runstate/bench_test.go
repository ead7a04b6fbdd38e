package runstate

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

// BenchmarkLoadRecord10000 loads the record of a node with 10,000
// virtual servers and their parameters, which a restarted ipvsd reads
// once before its first sync.
func BenchmarkLoadRecord10000(b *testing.B) {
	rec := NewRecord()
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
		k := ipvs.Key{Family: ipvs.IPv4, Address: a, Protocol: ipvs.TCP, Port: 80}
		rec.Services[k] = "ns/svc:http"
		rec.Config[k] = ipvs.Service{Key: k, Scheduler: "rr"}.Canonical()
		rec.Addresses[a] = true
	}
	s := OwnershipStore{Path: filepath.Join(b.TempDir(), "state.json")}
	if err := s.Save(rec); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := LoadRecord(s.Path); err != nil {
			b.Fatal(err)
		}
	}
}

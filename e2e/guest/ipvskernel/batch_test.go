//go:build lab

package ipvskernel

import (
	"net/netip"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

// TestBatchMatchesSingleCalls writes the same table of 500 services x 10
// real servers into two namespaces, one call at a time (moby/ipvs) and in
// batches, and compares what the guest's ipvsadm lists. The batches must
// carry many writes per sendmsg: that is their point.
func TestBatchMatchesSingleCalls(t *testing.T) {
	var ws []ipvs.Write
	for i := range 500 {
		k := ipvs.Key{Family: ipvs.IPv4, Protocol: ipvs.TCP, Address: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), Port: 80}
		s := ipvs.Service{Key: k, Scheduler: []string{"rr", "wrr", "sh"}[i%3], Timeout: uint32(i % 2 * 300)}
		ws = append(ws, ipvs.Write{Op: ipvs.WriteAddService, Service: s})
		for j := range 10 {
			d := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.AddrFrom4([4]byte{10, 244, byte(i >> 4), byte(i<<4 | j)}), Port: 8080},
				Weight: j, Forwarding: []ipvs.Forwarding{ipvs.Masquerade, ipvs.DirectRoute}[j%2]}
			ws = append(ws, ipvs.Write{Op: ipvs.WriteAddDest, Service: ipvs.Service{Key: k}, Dest: d})
		}
	}
	single, batched := newKernelNS(t), newKernelNS(t)
	for i, err := range ipvs.ApplyEach(single.h, ws) {
		if err != nil {
			t.Fatalf("single write %d: %v", i, err)
		}
	}
	for i, err := range batched.h.Apply(ws) {
		if err != nil {
			t.Fatalf("batched write %d: %v", i, err)
		}
	}
	if a, b := single.ipvsadm(t, "-Ln"), batched.ipvsadm(t, "-Ln"); a != b {
		t.Errorf("ipvsadm -Ln differs:\nsingle calls:\n%s\nbatched:\n%s", a, b)
	}
	sw, ss := single.h.Writes(), single.h.Sendmsgs()
	bw, bs := batched.h.Writes(), batched.h.Sendmsgs()
	t.Logf("figure: %d writes in %d sendmsgs one at a time, %d writes in %d sendmsgs batched", sw, ss, bw, bs)
	if sw != uint64(len(ws)) || bw != uint64(len(ws)) || ss != sw {
		t.Errorf("writes counted: %d and %d (sendmsgs %d), want %d each, one sendmsg per single write", sw, bw, ss, len(ws))
	}
	if bs == 0 || bw/bs < 100 {
		t.Errorf("%d batched writes took %d sendmsgs: want at least 100 writes per sendmsg", bw, bs)
	}
}

//go:build lab

package list

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

// ipvsadmForms are listings as ipvsadm users type them, -L and all, each
// one that ipvsadm 1.31 accepts: combined short options, attached
// values, long names. A few, since each costs process starts on the
// emulated CPU; listcmd's TestParseIPVSADMForms has many more.
var ipvsadmForms = []string{
	"-L", "-Ln", "-L -n", "--list --numeric", "-lnc", "-Lnc", "-LnX --rate",
	"-Lnt 10.96.0.10:80", "-Lt10.96.0.10:80 -n", "--list -n --tcp-service=10.96.0.10:80", "-Lnf 7 -6",
}

// TestIPVSADMForms: `ipvsd list FORM` prints what `ipvsadm FORM` does.
func TestIPVSADMForms(t *testing.T) {
	tableHosts(t)
	flush(t)
	h := handle(t)
	web := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.10"), Protocol: ipvs.TCP, Port: 80}
	for _, s := range []ipvs.Service{
		{Key: web, Scheduler: "rr"},
		{Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("192.0.2.1"), Protocol: ipvs.UDP, Port: 53}, Scheduler: "wrr"},
		{Key: ipvs.Key{Family: ipvs.IPv6, FWMark: 7}, Scheduler: "sh", Timeout: 300},
		{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 7}, Scheduler: "lc"},
	} {
		if err := h.AddService(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, rs := range []string{"10.100.1.2", "10.100.2.2"} {
		d := ipvs.Destination{DestKey: ipvs.DestKey{Address: netip.MustParseAddr(rs), Port: 8080}, Forwarding: ipvs.Masquerade, Weight: 2}
		if err := h.AddDestination(web, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, form := range ipvsadmForms {
		args := strings.Fields(form)
		sameAs(t, args, args)
	}
	// ipvsadm wants its command first and refuses -nL; ipvsd has its
	// command in "list" and takes -L anywhere.
	if r := run(t, "/usr/sbin/ipvsadm", "-nL"); r.code == 0 {
		t.Errorf("ipvsadm -nL accepted: %+v", r)
	}
	sameAs(t, []string{"-Ln"}, []string{"-nL"})
}

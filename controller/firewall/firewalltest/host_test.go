package firewalltest_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// TestHostRefusesLikeTheTools: each step runs on one fake host in order and
// must succeed or fail with the errno the kernel gives (hosttest's
// TestFakeConformance checks the same verdicts against the real tools).
func TestHostRefusesLikeTheTools(t *testing.T) {
	ctx := context.Background()
	h := firewalltest.NewHost()
	ipt := h.IPTables(firewall.ModeNFT, ipvs.IPv4)
	ipset := h.IPSet()
	for _, step := range []struct {
		name string
		run  func() error
		want error // nil: must succeed
	}{
		{"add to a missing set", func() error { return ipset.Script("add s 10.0.0.0/8\n", true) }, unix.ENOENT},
		{"create", func() error { return ipset.Script("create s hash:net family inet\nadd s 10.0.0.0/8\n", false) }, nil},
		{"create again", func() error { return ipset.Script("create s hash:net family inet\n", false) }, unix.EEXIST},
		{"create again, -exist", func() error { return ipset.Script("create s hash:net family inet\n", true) }, nil},
		{"create as another type, -exist", func() error { return ipset.Script("create s hash:ip family inet\n", true) }, unix.EEXIST},
		{"add again", func() error { return ipset.Script("add s 10.1.2.3/8\n", false) }, unix.EEXIST},
		{"del a missing entry", func() error { return ipset.Script("del s 192.0.2.0/24\n", false) }, unix.ENOENT},
		{"del a missing entry, -exist", func() error { return ipset.Script("del s 192.0.2.0/24\n", true) }, nil},
		{"wrong type", func() error { return ipset.Script("add s 10.0.0.1,tcp:80\n", true) }, unix.EINVAL},
		{"wrong family", func() error { return ipset.Script("add s fd00::/64\n", true) }, unix.EINVAL},
		{"zero prefix", func() error { return ipset.Script("add s 0.0.0.0/0\n", true) }, unix.EINVAL},
		{"skbmark without skbinfo", func() error { return ipset.Script("add s 192.0.2.0/24 skbmark 0x1\n", true) }, unix.EINVAL},
		{"jump to a missing chain", func() error { return ipt.Restore(ctx, "*filter\n-A INPUT -j NOPE\nCOMMIT\n") }, unix.ENOENT},
		{"match a missing set", func() error {
			return ipt.Restore(ctx, "*filter\n-A INPUT -m set --match-set nope src -j DROP\nCOMMIT\n")
		}, unix.ENOENT},
		{"map-mark outside mangle", func() error {
			return ipt.Restore(ctx, "*nat\n-A PREROUTING -j SET --map-set s src --map-mark\nCOMMIT\n")
		}, unix.EINVAL},
		{"chain using the set", func() error {
			return ipt.Restore(ctx, "*filter\n:C - [0:0]\n-A C -m set --match-set s src -j DROP\n-A INPUT -j C\nCOMMIT\n")
		}, nil},
		{"destroy a set in use", func() error { return ipset.Script("destroy s\n", true) }, unix.EBUSY},
		{"delete a non-empty chain", func() error { return ipt.Restore(ctx, "*filter\n-D INPUT -j C\n-X C\nCOMMIT\n") }, unix.ENOTEMPTY},
		{"delete a referenced chain", func() error { return ipt.Restore(ctx, "*filter\n-F C\n-X C\nCOMMIT\n") }, unix.EBUSY},
		{"delete a missing rule", func() error { return ipt.Restore(ctx, "*filter\n-D INPUT -j ACCEPT\nCOMMIT\n") }, unix.ENOENT},
		{"delete the chain", func() error { return ipt.Restore(ctx, "*filter\n-D INPUT -j C\n-F C\n-X C\nCOMMIT\n") }, nil},
		{"destroy", func() error { return ipset.Script("destroy s\n", false) }, nil},
		{"destroy a missing set", func() error { return ipset.Script("destroy s\n", false) }, unix.ENOENT},
		{"destroy a missing set, -exist", func() error { return ipset.Script("destroy s\n", true) }, nil},
	} {
		err := step.run()
		var le *firewalltest.LineError
		switch {
		case step.want == nil && err != nil:
			t.Errorf("%s: %v", step.name, err)
		case step.want != nil && (!errors.Is(err, step.want) || !errors.As(err, &le)):
			t.Errorf("%s: got %v, want a *LineError wrapping %v", step.name, err, step.want)
		}
	}
	// Nothing the failed restores did survived.
	if got, want := h.SaveAll(firewall.ModeNFT, ipvs.IPv4), firewalltest.NewHost().SaveAll(firewall.ModeNFT, ipvs.IPv4); got != want {
		t.Errorf("after the steps:\n%s\nwant\n%s", got, want)
	}
}

// TestHostTablesAreAtomic: a table changes at COMMIT only, and a failure
// in a later table leaves earlier ones committed, as iptables-restore does.
func TestHostTablesAreAtomic(t *testing.T) {
	h := firewalltest.NewHost()
	ipt := h.IPTables(firewall.ModeLegacy, ipvs.IPv6)
	err := ipt.Restore(context.Background(), "*nat\n:Z - [0:0]\nCOMMIT\n*filter\n:Y - [0:0]\n-A Y -j NOPE\nCOMMIT\n")
	var le *firewalltest.LineError
	if !errors.As(err, &le) || le.Line != 6 || le.Tool != "ip6tables-restore" {
		t.Fatalf("got %v, want line 6 of ip6tables-restore refused", err)
	}
	want := "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:Z - [0:0]\nCOMMIT\n" +
		"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" +
		"*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
	if got := h.SaveAll(firewall.ModeLegacy, ipvs.IPv6); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The other back-end and family are separate tables.
	if got := h.SaveAll(firewall.ModeNFT, ipvs.IPv6); got == want {
		t.Error("the nft back-end shares the legacy one's tables")
	}
}

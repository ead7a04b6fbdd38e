package firewall_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/firewall/firewalltest"
	"github.com/ipvsd/ipvsd/ipvs"
)

// BenchmarkOneServiceAdd: one service added to, then removed from, n
// programmed ones on the fake host, the way the daemon did it before
// updates by owner (the whole Desired to Sync, which diffs every set)
// and through Apply. Each op is the add and the remove; ipset-lines/op
// counts what the two wrote, tool-runs/op the ipset and iptables
// processes they ran.
func BenchmarkOneServiceAdd(b *testing.B) {
	ctx := context.Background()
	extra := firewall.Part{Services: []firewall.VirtualServer{{
		Key: ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.97.0.1"), Protocol: ipvs.TCP, Port: 80}, HasEndpoints: true}}}
	for _, n := range []int{1000, 10000} {
		o := firewalltest.NewService(n, extra)
		for _, mode := range []struct {
			name     string
			add, del func(*firewall.Firewall) error
		}{
			{"whole", func(fw *firewall.Firewall) error {
				// Building the whole Desired is part of that cost: the
				// source did it at every change of a service's part.
				_, err := fw.Sync(ctx, o.With.Desired())
				return err
			}, func(fw *firewall.Firewall) error {
				_, err := fw.Sync(ctx, o.Without.Desired())
				return err
			}},
			{"update", func(fw *firewall.Firewall) error {
				_, err := fw.Apply(ctx, o.Add)
				return err
			}, func(fw *firewall.Firewall) error {
				_, err := fw.Apply(ctx, o.Del)
				return err
			}},
		} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, n), func(b *testing.B) {
				e, c := newCountedEnv(b, zap.NewNop())
				if _, err := e.fw.Repair(ctx, o.Without.Whole()); err != nil {
					b.Fatal(err)
				}
				// One round first: the first partial update after the
				// firewall opens counts every entry once.
				if err := mode.add(e.fw); err != nil {
					b.Fatal(err)
				}
				if err := mode.del(e.fw); err != nil {
					b.Fatal(err)
				}
				c.take()
				b.ResetTimer()
				for range b.N {
					if err := mode.add(e.fw); err != nil {
						b.Fatal(err)
					}
					if err := mode.del(e.fw); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runs := c.runs()
				lines, _, _ := c.take()
				b.ReportMetric(float64(lines)/float64(b.N), "ipset-lines/op")
				b.ReportMetric(float64(runs)/float64(b.N), "tool-runs/op")
			})
		}
	}
}

// BenchmarkDesiredSets: the sets of n services, what every periodic
// repair computes; B/op is its garbage.
func BenchmarkDesiredSets(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		o := firewalltest.NewService(n, firewall.Part{})
		d := o.Without.Desired()
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				firewall.DesiredSets(&d, ipvs.IPv4)
			}
		})
	}
}

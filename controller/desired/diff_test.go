package desired_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestDiff(t *testing.T) {
	k := desiredtest.TCP("192.0.2.1:80")
	u := desiredtest.UDP("192.0.2.1:53")
	noDrain := desiredtest.VServer(k, "rr", desiredtest.Dest("10.0.0.1:80", 1))
	noDrain.DrainTimeout = -1
	persistent := desiredtest.VServer(k, "sh", desiredtest.Dest("10.0.0.1:80", 1))
	persistent.Flags = ipvs.FlagSHPort
	persistent.Timeout = 300
	fwm := desired.VirtualServer{Service: ipvs.Service{Key: ipvs.Key{Family: ipvs.IPv4, FWMark: 7}, Scheduler: "wlc"}}
	tests := []struct {
		name    string
		desired *desired.VirtualServer
		actual  *ipvs.ServiceConfig
		want    []string
	}{
		{name: "nothing to nothing"},
		{
			name:    "create service then real servers, sorted",
			desired: ptr(desiredtest.VServer(k, "rr", desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.1:8080", 2))),
			want: []string{
				"add-service TCP 192.0.2.1:80 rr",
				"add-dest TCP 192.0.2.1:80 -> 10.0.0.1:8080 Masq w=2",
				"add-dest TCP 192.0.2.1:80 -> 10.0.0.2:80 Masq w=1",
			},
		},
		{
			name:   "delete service at once",
			actual: desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.1:80", 1)),
			want:   []string{"delete-service TCP 192.0.2.1:80"},
		},
		{
			name:    "equal: order ignored",
			desired: ptr(desiredtest.VServer(k, "rr", desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.1:80", 1))),
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.1:80", 1), desiredtest.Dest("10.0.0.2:80", 1)),
		},
		{
			name:    "netmask and persistence flag as the kernel reports them",
			desired: &persistent,
			actual: &ipvs.ServiceConfig{
				Service:      ipvs.Service{Key: k, Scheduler: "sh", Flags: ipvs.FlagSHPort | ipvs.FlagPersistent, Timeout: 300, Netmask: 32},
				Destinations: []ipvs.Destination{desiredtest.Dest("10.0.0.1:80", 1)},
			},
		},
		{
			name:    "scheduler change is an update in place",
			desired: ptr(desiredtest.VServer(k, "wrr", desiredtest.Dest("10.0.0.1:80", 1))),
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.1:80", 1)),
			want:    []string{"update-service TCP 192.0.2.1:80 wrr"},
		},
		{
			name:    "flags and timeout change is an update in place",
			desired: &persistent,
			actual:  desiredtest.Actual(k, "sh", desiredtest.Dest("10.0.0.1:80", 1)),
			want:    []string{"update-service TCP 192.0.2.1:80 sh flags=0x9 timeout=300"},
		},
		{
			name:    "weight, forwarding and thresholds are updates in place",
			desired: ptr(desiredtest.VServer(k, "rr", desiredtest.Dest("10.0.0.1:80", 5), withFwd(desiredtest.Dest("10.0.0.2:80", 1), ipvs.DirectRoute), withThresholds(desiredtest.Dest("10.0.0.3:80", 1), 100, 10))),
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.1:80", 1), desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.3:80", 1)),
			want: []string{
				"update-dest TCP 192.0.2.1:80 -> 10.0.0.1:80 Masq w=5",
				"update-dest TCP 192.0.2.1:80 -> 10.0.0.2:80 Route w=1",
				"update-dest TCP 192.0.2.1:80 -> 10.0.0.3:80 Masq w=1 x=100 y=10",
			},
		},
		{
			name:    "replace: new real servers added before stale ones drain",
			desired: ptr(desiredtest.VServer(k, "rr", desiredtest.Dest("10.0.0.9:80", 1), desiredtest.Dest("10.0.0.1:80", 3))),
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.1:80", 1), desiredtest.Dest("10.0.0.0:80", 1)),
			want: []string{
				"add-dest TCP 192.0.2.1:80 -> 10.0.0.9:80 Masq w=1",
				"update-dest TCP 192.0.2.1:80 -> 10.0.0.1:80 Masq w=3",
				"drain-dest TCP 192.0.2.1:80 -> 10.0.0.0:80",
				"drain-dest TCP 192.0.2.1:80 -> 10.0.0.2:80",
			},
		},
		{
			name:    "stale real server already at weight 0 still drains",
			desired: ptr(desiredtest.VServer(k, "rr")),
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.2:80", 0)),
			want:    []string{"drain-dest TCP 192.0.2.1:80 -> 10.0.0.2:80"},
		},
		{
			name:    "desired weight 0 is not a drain",
			desired: ptr(desiredtest.VServer(k, "rr", desiredtest.Dest("10.0.0.2:80", 0))),
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.2:80", 4)),
			want:    []string{"update-dest TCP 192.0.2.1:80 -> 10.0.0.2:80 Masq w=0"},
		},
		{
			name:    "UDP real servers are deleted at once",
			desired: ptr(desiredtest.VServer(u, "rr", desiredtest.Dest("10.0.0.3:53", 1))),
			actual:  desiredtest.Actual(u, "rr", desiredtest.Dest("10.0.0.2:53", 1)),
			want: []string{
				"add-dest UDP 192.0.2.1:53 -> 10.0.0.3:53 Masq w=1",
				"delete-dest UDP 192.0.2.1:53 -> 10.0.0.2:53",
			},
		},
		{
			name:    "negative drain timeout deletes TCP at once",
			desired: &noDrain,
			actual:  desiredtest.Actual(k, "rr", desiredtest.Dest("10.0.0.1:80", 1), desiredtest.Dest("10.0.0.2:80", 1)),
			want:    []string{"delete-dest TCP 192.0.2.1:80 -> 10.0.0.2:80"},
		},
		{
			name:    "firewall-mark services drain",
			desired: &fwm,
			actual:  &ipvs.ServiceConfig{Service: fwm.Service, Destinations: []ipvs.Destination{desiredtest.Dest("10.0.0.1:0", 1)}},
			want:    []string{"drain-dest FWM 7 -> 10.0.0.1:0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, op := range desired.Diff(tt.desired, tt.actual) {
				got = append(got, op.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff() ops (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffDoesNotModifyInputs(t *testing.T) {
	d := desiredtest.VServer(desiredtest.TCP("192.0.2.1:80"), "rr", desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.1:80", 1))
	a := desiredtest.Actual(d.Key, "rr", desiredtest.Dest("10.0.0.3:80", 1))
	desired.Diff(&d, a)
	if d.Destinations[0].Address != netip.MustParseAddr("10.0.0.2") || len(a.Destinations) != 1 {
		t.Errorf("Diff modified its inputs: %+v %+v", d, a)
	}
}

func ptr[T any](v T) *T { return &v }

func withFwd(d ipvs.Destination, f ipvs.Forwarding) ipvs.Destination {
	d.Forwarding = f
	return d
}

func withThresholds(d ipvs.Destination, upper, lower uint32) ipvs.Destination {
	d.UpperThreshold, d.LowerThreshold = upper, lower
	return d
}

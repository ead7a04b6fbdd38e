package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.sizes, []int{1000, 10000, 50000}) || !slices.Equal(o.modes, []string{"standalone", "kube"}) || o.changes != 200 || o.idle != 60 || o.kubeProxy {
		t.Errorf("defaults %+v: want the issue's sizes, both modes, 200 changes, 60 s idle, no kube-proxy", o)
	}
	o, err = parseFlags([]string{"-sizes", "100, 1000", "-modes", "kube", "-kube-proxy"})
	if err != nil || !slices.Equal(o.sizes, []int{100, 1000}) || !slices.Equal(o.modes, []string{"kube"}) || !o.kubeProxy {
		t.Errorf("got %+v, %v", o, err)
	}
}

// TestParseFlagsNamesEveryCulprit: all mistakes at once, each named.
func TestParseFlagsNamesEveryCulprit(t *testing.T) {
	_, err := parseFlags([]string{"-sizes", "100,lots,0,70000", "-modes", "kube,iptables", "-changes", "0"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`"lots"`, `"0"`, `"70000"`, `unknown mode "iptables"`, "-changes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestVMTimeoutGrowsWithTheTable(t *testing.T) {
	o := options{changes: 200}
	small, large := vmTimeout(o, "kube", 100), vmTimeout(o, "kube", 50000)
	if small < 20*time.Minute || large < 200*500*time.Millisecond*10 {
		t.Errorf("timeouts %s at 100 and %s at 50,000 services: want at least 20 min, and room for 200 reloads of 500 s at 50,000", small, large)
	}
	if fewer := vmTimeout(options{changes: 20}, "kube", 50000); fewer >= large {
		t.Errorf("20 changes get %s, 200 %s: want less", fewer, large)
	}
	if got := vmTimeout(options{changes: 200, kubeProxy: true}, "kube", 100); got != 2*small {
		t.Errorf("with kube-proxy %s, want twice %s", got, small)
	}
	if got := vmTimeout(options{vmTimeout: time.Minute}, "datapath", 50000); got != time.Minute {
		t.Errorf("-vm-timeout 1m gave %s", got)
	}
}

// TestDataPathVM: the datapath mode runs its own guest test with the
// real kube-proxy beside ipvsd unless told otherwise, and its bound holds
// one cold start (both proxies start at once) and the connections, not
// the changes.
func TestDataPathVM(t *testing.T) {
	o, err := parseFlags([]string{"-modes", "datapath", "-sizes", "100,10000", "-dp-conns", "500"})
	if err != nil || !slices.Equal(o.modes, []string{"datapath"}) || o.dpConns != 500 || !o.dpKubeProxy {
		t.Fatalf("got %+v, %v", o, err)
	}
	for _, c := range []struct{ mode, want string }{{"datapath", "^TestDataPath$"}, {"kube", "^TestKube$"}, {"standalone", "^TestStandalone$"}} {
		if got := guestTests(o, c.mode); got != c.want {
			t.Errorf("%s runs %s, want %s", c.mode, got, c.want)
		}
	}
	if got := vmTimeout(o, "datapath", 10000); got < coldTimeout(o, 10000)+15*time.Minute || got >= vmTimeout(o, "kube", 10000) {
		t.Errorf("datapath VM at 10,000 bound %s: want at least a cold start (%s) and a quarter of an hour, and less than a kube VM with 200 changes (%s)", got, coldTimeout(o, 10000), vmTimeout(o, "kube", 10000))
	}
	more := o
	more.dpConns = 5000
	if d := vmTimeout(more, "datapath", 100) - vmTimeout(o, "datapath", 100); d != 4*4500*20*time.Millisecond {
		t.Errorf("4,500 more connections per path added %s to the bound, want 20 ms for each of 4 x 4,500", d)
	}
	o.coldTimeout = time.Hour
	if got := vmTimeout(o, "datapath", 100); got < time.Hour+15*time.Minute {
		t.Errorf("-cold-timeout 1h: a datapath VM bound of %s, want room for such a cold start", got)
	}
	if o, err := parseFlags([]string{"-modes", "datapath", "-dp-kube-proxy=false"}); err != nil || o.dpKubeProxy {
		t.Errorf("-dp-kube-proxy=false: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-dp-conns", "0"}); err == nil || !strings.Contains(err.Error(), "-dp-conns") {
		t.Errorf("-dp-conns 0: %v", err)
	}
}

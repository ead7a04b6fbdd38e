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
	small, large := vmTimeout(o, 100), vmTimeout(o, 50000)
	if small < 20*time.Minute || large < 200*500*time.Millisecond*10 {
		t.Errorf("timeouts %s at 100 and %s at 50,000 services: want at least 20 min, and room for 200 reloads of 500 s at 50,000", small, large)
	}
	if fewer := vmTimeout(options{changes: 20}, 50000); fewer >= large {
		t.Errorf("20 changes get %s, 200 %s: want less", fewer, large)
	}
	if got := vmTimeout(options{changes: 200, kubeProxy: true}, 100); got != 2*small {
		t.Errorf("with kube-proxy %s, want twice %s", got, small)
	}
	if got := vmTimeout(options{vmTimeout: time.Minute}, 50000); got != time.Minute {
		t.Errorf("-vm-timeout 1m gave %s", got)
	}
}

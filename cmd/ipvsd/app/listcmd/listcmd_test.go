package listcmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

type resolver struct{}

func (resolver) HostAddr(name string) (netip.Addr, bool) {
	if name == "web" {
		return netip.MustParseAddr("10.96.0.10"), true
	}
	return netip.Addr{}, false
}

func (resolver) Port(name, proto string) (uint16, bool) { return 80, name == "http" && proto == "tcp" }

func TestSelectorKey(t *testing.T) {
	v4 := func(a string, p uint16) ipvs.Key {
		return ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr(a), Protocol: ipvs.TCP, Port: p}
	}
	v6 := func(a string, p uint16) ipvs.Key {
		return ipvs.Key{Family: ipvs.IPv6, Address: netip.MustParseAddr(a), Protocol: ipvs.TCP, Port: p}
	}
	for in, want := range map[string]ipvs.Key{
		"10.96.0.10:80":    v4("10.96.0.10", 80),
		"10.96.0.10":       v4("10.96.0.10", 0),
		"web:http":         v4("10.96.0.10", 80),
		"[2001:db8::1]:80": v6("2001:db8::1", 80),
		"2001:db8::1":      v6("2001:db8::1", 0),
		// A bare IPv6 address takes no port, as in ipvsadm.
		"2001:db8::1:80": v6("2001:db8::1:80", 0),
	} {
		got, err := (&Selector{Protocol: ipvs.TCP, Address: in}).Key(resolver{})
		if err != nil || got != want {
			t.Errorf("Key(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "80", "[2001:db8::1]", "nosuchhost:80", "web:nosuchport", "10.0.0.1:70000"} {
		if k, err := (&Selector{Protocol: ipvs.TCP, Address: in}).Key(resolver{}); !errors.Is(err, errIllegalService) {
			t.Errorf("Key(%q) = %v, %v; want %v", in, k, err, errIllegalService)
		}
	}
	if k, err := (&Selector{FWMark: "7", IPv6: true}).Key(nil); err != nil || k != (ipvs.Key{Family: ipvs.IPv6, FWMark: 7}) {
		t.Errorf("-f 7 -6: %v, %v", k, err)
	}
	for _, m := range []string{"0", "-1", "4294967296", "x"} {
		if _, err := (&Selector{FWMark: m}).Key(nil); err == nil {
			t.Errorf("-f %s accepted", m)
		}
	}
}

// fakeKernel serves one table.
type fakeKernel []ipvs.ServiceWithDests

func (f fakeKernel) Info() (ipvs.Info, error) {
	return ipvs.Info{Version: 0x010201, ConnTabSize: 4096}, nil
}
func (f fakeKernel) Dump() ([]ipvs.ServiceWithDests, error) { return f, nil }
func (f fakeKernel) GetService(k ipvs.Key) (ipvs.ServiceWithDests, error) {
	for _, s := range f {
		if s.Key == k.Canonical() {
			return s, nil
		}
	}
	return ipvs.ServiceWithDests{}, unix.ESRCH
}

func runList(t *testing.T, k fakeKernel, opts Options) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	opts.RunDir = t.TempDir()
	err := Run(opts, Deps{Kernel: func() (Kernel, error) { return k, nil }}, &out, &errb)
	return out.String(), errb.String(), err
}

func TestRun(t *testing.T) {
	key := ipvs.Key{Family: ipvs.IPv4, Address: netip.MustParseAddr("10.96.0.10"), Protocol: ipvs.TCP, Port: 80}
	k := fakeKernel{{Service: ipvs.Service{Key: key, Scheduler: "rr"}, Stats: ipvs.Stats{InBytes: math.MaxUint64}}}

	_, _, err := runList(t, k, Options{Numeric: true, Service: &Selector{Protocol: ipvs.TCP, Address: "10.9.9.9:80"}})
	if !errors.Is(err, ErrNoSuchService) || !errors.Is(err, unix.ESRCH) || err.Error() != "No such service" {
		t.Errorf("missing service: %v", err)
	}
	out, _, err := runList(t, k, Options{Numeric: true, Service: &Selector{Protocol: ipvs.TCP, Address: "10.96.0.10:80"}})
	if err != nil || !strings.HasPrefix(out, "Prot LocalAddress:Port") || !strings.Contains(out, "TCP  10.96.0.10:80 rr") {
		t.Errorf("one service: %q, %v", out, err)
	}
	// 64-bit counters stay exact in both encodings.
	for _, f := range []string{"json", "yaml"} {
		out, _, err := runList(t, k, Options{Output: f})
		if err != nil || !strings.Contains(out, "18446744073709551615") {
			t.Errorf("-o %s: %v\n%s", f, err, out)
		}
	}
	_, stderr, err := runList(t, k, Options{Numeric: true, Owners: true})
	if err != nil || !strings.Contains(stderr, "no ownership record") {
		t.Errorf("--owners without a record: %q, %v", stderr, err)
	}
	if _, _, err := runList(t, k, Options{Drift: true}); err == nil || !strings.Contains(err.Error(), "no desired state published") {
		t.Errorf("--drift without a daemon: %v", err)
	}
	for _, bad := range []Options{{Connections: true, Stats: true}, {Drift: true, Stats: true}, {Output: "xml"}, {Service: &Selector{IPv6: true}}} {
		if _, _, err := runList(t, k, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestIPVSNotLoaded: without ip_vs the kernel has no connection table and
// no IPVS netlink family, and says only "no such file"; list must say
// that IPVS is not loaded and how to load it, keeping the kernel's words.
// Other errors are passed on as they are.
func TestIPVSNotLoaded(t *testing.T) {
	noConns := filepath.Join(t.TempDir(), "ip_vs_conn")
	noFamily := func() (Kernel, error) {
		return nil, fmt.Errorf("looking up the IPVS generic netlink family: %w", unix.ENOENT)
	}
	denied := func() (Kernel, error) { return nil, fmt.Errorf("opening IPVS: %w", unix.EPERM) }
	for _, tc := range []struct {
		name      string
		opts      Options
		deps      Deps
		want      string
		notLoaded bool
	}{
		{"-c", Options{Connections: true, Numeric: true}, Deps{ConnPath: noConns},
			"IPVS is not loaded in this kernel (load it with: modprobe ip_vs): reading IPVS connections: open " + noConns + ": no such file or directory", true},
		{"-n", Options{Numeric: true}, Deps{Kernel: noFamily},
			"IPVS is not loaded in this kernel (load it with: modprobe ip_vs): looking up the IPVS generic netlink family: no such file or directory", true},
		{"-t", Options{Numeric: true, Service: &Selector{Protocol: ipvs.TCP, Address: "10.0.0.1:80"}}, Deps{Kernel: noFamily},
			"IPVS is not loaded in this kernel (load it with: modprobe ip_vs): looking up the IPVS generic netlink family: no such file or directory", true},
		{"--drift", Options{Drift: true}, Deps{Kernel: noFamily},
			"IPVS is not loaded in this kernel (load it with: modprobe ip_vs): looking up the IPVS generic netlink family: no such file or directory", true},
		{"not root", Options{Numeric: true}, Deps{Kernel: denied}, "opening IPVS: operation not permitted", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.RunDir = t.TempDir()
			err := Run(tc.opts, tc.deps, io.Discard, io.Discard)
			if err == nil || err.Error() != tc.want || errors.Is(err, ErrIPVSNotLoaded) != tc.notLoaded {
				t.Errorf("error %v\nwant       %s (IPVS not loaded: %v)", err, tc.want, tc.notLoaded)
			}
		})
	}
}

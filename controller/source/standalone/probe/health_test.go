package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/runner/runnertest"
)

// scriptProber answers from a per-backend health flag and reports each
// probe on a channel.
type scriptProber struct {
	mu     sync.Mutex
	bad    map[netip.AddrPort]bool
	probed chan ID
}

func (p *scriptProber) set(a netip.AddrPort, bad bool) { p.mu.Lock(); p.bad[a] = bad; p.mu.Unlock() }

func (p *scriptProber) Probe(_ context.Context, t Target) error {
	p.mu.Lock()
	bad := p.bad[t.Backend]
	p.mu.Unlock()
	defer func() { p.probed <- t.ID }()
	if bad {
		return errors.New("connection refused")
	}
	return nil
}

func TestStateRiseFall(t *testing.T) {
	s := newState(2, 3, time.Time{})
	fail := errors.New("x")
	steps := []struct {
		err    error
		up     bool
		change bool
	}{
		{fail, true, false}, {nil, true, false}, // a success resets the count
		{fail, true, false}, {fail, true, false}, {fail, false, true},
		{fail, false, false}, {nil, false, false}, {fail, false, false}, // a failure resets rise
		{nil, false, false}, {nil, true, true}, {nil, true, false},
	}
	for i, st := range steps {
		if ch := s.observe(st.err, time.Time{}); ch != st.change || s.up != st.up {
			t.Fatalf("step %d: changed=%v %s, want changed=%v up=%v", i, ch, s, st.change, st.up)
		}
	}
}

// TestMonitorQuiescesAndRestores: a backend failing fall checks in a row is
// reported down within fall intervals (plus jitter), and up again after
// rise successes; its neighbour, checked concurrently, is never affected.
func TestMonitorQuiescesAndRestores(t *testing.T) {
	clock := runnertest.NewClock(time.Unix(1000, 0))
	a, b := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80")
	prober := &scriptProber{bad: map[netip.AddrPort]bool{}, probed: make(chan ID, 16)}
	changes := make(chan Status, 4)
	m := New(Deps{Prober: prober, Clock: clock, Rand: func() float64 { return 0.5 }, Log: zaptest.NewLogger(t),
		Hooks: Hooks{Changed: func(id ID, st Status) {
			if id.Backend != a {
				t.Errorf("unexpected transition of %s", id)
			}
			changes <- st
		}}})
	defer m.Close()
	spec := Spec{Type: TypeTCP, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3}
	m.Update([]Target{{ID{"web", a}, spec}, {ID{"web", b}, spec}})
	if st := m.Statuses(); !st[ID{"web", a}].Up || !st[ID{"web", b}].Up {
		t.Fatalf("backends must start up: %v", st)
	}

	// round advances to the next check of both backends and waits for them.
	round := func() {
		t.Helper()
		waitFor(t, func() bool { return clock.Pending() == 2 })
		clock.Advance(spec.Interval + spec.Interval/10)
		for range 2 {
			select {
			case <-prober.probed:
			case <-time.After(5 * time.Second):
				t.Fatal("no probe")
			}
		}
	}
	round() // first check: both healthy
	prober.set(a, true)
	start := clock.Now()
	round()
	round()
	noChange(t, changes)
	round()
	st := <-changes
	if st.Up || st.Reason != "connection refused" {
		t.Fatalf("after fall failures: %+v", st)
	}
	if took, limit := clock.Now().Sub(start), time.Duration(float64(spec.Fall)*float64(spec.Interval)*(1+Jitter)); took > limit {
		t.Errorf("down after %v, more than fall x interval (%v)", took, limit)
	}
	prober.set(a, false)
	round()
	noChange(t, changes)
	round()
	if st := <-changes; !st.Up {
		t.Fatalf("after rise successes: %+v", st)
	}
}

// TestMonitorUpdateKeepsState: a reload that keeps a target keeps its
// status; a changed spec keeps the status too; a removed target is gone.
func TestMonitorUpdateKeepsState(t *testing.T) {
	clock := runnertest.NewClock(time.Unix(0, 0))
	a := netip.MustParseAddrPort("10.0.0.1:80")
	prober := &scriptProber{bad: map[netip.AddrPort]bool{a: true}, probed: make(chan ID, 16)}
	m := New(Deps{Prober: prober, Clock: clock, Rand: func() float64 { return 0 }})
	defer m.Close()
	spec := Spec{Type: TypeTCP, Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	id := ID{"web", a}
	m.Update([]Target{{id, spec}})
	waitFor(t, func() bool { return clock.Pending() == 1 })
	clock.Advance(0)
	<-prober.probed
	waitFor(t, func() bool { return !m.Statuses()[id].Up })

	m.Update([]Target{{id, spec}})
	spec.Interval = 3 * time.Second
	m.Update([]Target{{id, spec}})
	if st := m.Statuses()[id]; st.Up {
		t.Fatalf("status lost across updates: %+v", st)
	}
	m.Update(nil)
	if len(m.Statuses()) != 0 {
		t.Fatalf("removed target still checked: %v", m.Statuses())
	}
}

func noChange(t *testing.T, ch <-chan Status) {
	t.Helper()
	select {
	case st := <-ch:
		t.Fatalf("unexpected transition: %+v", st)
	case <-time.After(20 * time.Millisecond):
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNetProber runs the real checks against servers on loopback.
func TestNetProber(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "web.example" {
			http.Error(w, "wrong host "+r.Host, http.StatusMisdirectedRequest)
		}
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) })
	plain := httptest.NewServer(mux)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close()

	at := func(u string) netip.AddrPort { return netip.MustParseAddrPort(u[len("http://"):]) }
	httpAddr := at(plain.URL)
	tlsAddr := netip.MustParseAddrPort(tlsSrv.URL[len("https://"):])
	p := NetProber{Dialer: &net.Dialer{}}
	cases := []struct {
		name string
		addr netip.AddrPort
		spec Spec
		ok   bool
	}{
		{"tcp open", httpAddr, Spec{Type: TypeTCP}, true},
		{"tcp closed", deadAddr, Spec{Type: TypeTCP}, false},
		{"tcp port override", deadAddr, Spec{Type: TypeTCP, Port: httpAddr.Port()}, true},
		{"http ok", httpAddr, Spec{Type: TypeHTTP, Path: "/healthz", Host: "web.example"}, true},
		{"http wrong host", httpAddr, Spec{Type: TypeHTTP, Path: "/healthz", Host: "other"}, false},
		{"http 404", httpAddr, Spec{Type: TypeHTTP, Path: "/missing", Host: "web.example"}, false},
		{"http redirect not followed", httpAddr, Spec{Type: TypeHTTP, Path: "/moved", ExpectStatus: []int{302}}, true},
		{"https self-signed", tlsAddr, Spec{Type: TypeHTTPS, Path: "/healthz", Host: "web.example"}, true},
		{"http closed", deadAddr, Spec{Type: TypeHTTP, Path: "/"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := p.Probe(ctx, Target{ID: ID{"s", tc.addr}, Spec: tc.spec})
			if (err == nil) != tc.ok {
				t.Fatalf("probe: %v, want ok=%v", err, tc.ok)
			}
			if tc.name == "http 404" && !errors.Is(err, ErrStatus) {
				t.Errorf("want ErrStatus, got %v", err)
			}
		})
	}
}

// TestMonitorUpdateServicesCostsTheirTargets: updating a few services
// looks at their targets alone, whatever the number of others, and leaves
// the others' schedules running; Update looks at all.
func TestMonitorUpdateServicesCostsTheirTargets(t *testing.T) {
	clock := runnertest.NewClock(time.Unix(0, 0))
	m := New(Deps{Prober: okProber{}, Clock: clock, Rand: func() float64 { return 0.5 }})
	defer m.Close()
	spec := Spec{Type: TypeTCP, Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	targets := func(svc string, n int, sp Spec) []Target {
		var out []Target
		for i := range n {
			out = append(out, Target{ID{svc, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80)}, sp})
		}
		return out
	}
	var all []Target
	for i := range 100 {
		all = append(all, targets(fmt.Sprintf("s%d", i), 10, spec)...)
	}
	if n := m.Update(all); n != (Counts{Examined: 1000, Started: 1000}) {
		t.Fatalf("first update: %+v", n)
	}
	slower := spec
	slower.Interval = 2 * time.Second
	cases := []struct {
		name     string
		services []string
		targets  []Target
		want     Counts
	}{
		{"one spec changed", []string{"s1"}, targets("s1", 10, slower), Counts{Examined: 20, Started: 10, Stopped: 10}},
		{"one backend fewer", []string{"s2"}, targets("s2", 9, spec), Counts{Examined: 19, Stopped: 1}},
		{"one service gone", []string{"s3"}, nil, Counts{Examined: 10, Stopped: 10}},
		{"one service new", []string{"new"}, targets("new", 2, spec), Counts{Examined: 2, Started: 2}},
		{"unchanged", []string{"s4"}, targets("s4", 10, spec), Counts{Examined: 20}},
	}
	for _, c := range cases {
		if n := m.UpdateServices(c.services, c.targets); n != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, n, c.want)
		}
	}
	if got := len(m.Statuses()); got != 1000-1-10+2 {
		t.Errorf("%d targets checked, want %d", got, 1000-1-10+2)
	}
	if _, ok := m.Status(ID{"s2", netip.MustParseAddrPort("10.0.0.10:80")}); ok {
		t.Error("the removed backend is still checked")
	}
}

type okProber struct{}

func (okProber) Probe(context.Context, Target) error { return nil }

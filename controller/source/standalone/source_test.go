package standalone

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/controller/reconciler/reconcilertest"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

const twoServices = `
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    backends: [{address: 10.0.0.1, weight: 2}, {address: 10.0.0.2}]
  - name: api
    vip: 192.0.2.11
    port: 443
    forwarding: dr
    backends: [{address: 10.0.1.1}, {address: 10.0.1.2}]
`

// apiEdited changes one weight of api; web is byte-for-byte the same.
var apiEdited = strings.Replace(twoServices, "{address: 10.0.1.2}", "{address: 10.0.1.2, weight: 5}", 1)

type okProber struct{}

func (okProber) Probe(context.Context, probe.Target) error { return nil }

// testDaemon runs the source and the programmer against the fake kernel,
// recording the keys of every write.
type testDaemon struct {
	*Source
	prog   *dataplane.Programmer
	rec    *reconciler.Reconciler
	kernel *ipvstest.Fake
	fw     *dataplanetest.Firewall
	mu     sync.Mutex
	writes map[ipvs.Key]int
}

func newTestDaemon(t testing.TB, content string) *testDaemon {
	t.Helper()
	return newTestDaemonWith(t, content, Options{ConfigPath: filepath.Join(t.TempDir(), "none.yaml"), WatchInterval: -1}, nil)
}

// newTestDaemonWith is newTestDaemon with the source's options and clock.
func newTestDaemonWith(t testing.TB, content string, opts Options, clock runner.Clock) *testDaemon {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	td := &testDaemon{kernel: ipvstest.New(), fw: &dataplanetest.Firewall{}, writes: map[ipvs.Key]int{}}
	td.kernel.SetHook(func(op ipvstest.Op, key ipvs.Key, _ ipvs.DestKey) error {
		if op.IsWrite() {
			td.mu.Lock()
			td.writes[key]++
			td.mu.Unlock()
		}
		return nil
	})
	rec, err := reconciler.New(reconciler.Config{RecordPath: filepath.Join(t.TempDir(), "state.json")},
		reconciler.Deps{Kernel: td.kernel, Addresses: reconcilertest.NewAddresses(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	parser := config.NewParser()
	cfg, err := parser.Parse([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := dataplane.New(dataplane.Config{FirewallOnDemand: true}, dataplane.Deps{
		IPVS:         rec,
		OpenFirewall: func(context.Context) (dataplane.Firewall, error) { return td.fw, nil },
		Log:          log,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(opts, Deps{
		Trigger: prog.Trigger,
		Prober:  okProber{},
		Clock:   clock,
		Log:     log,
		Parser:  parser,
	}, cfg, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.monitor.Close)
	td.Source, td.prog, td.rec = d, prog, rec
	return td
}

func (td *testDaemon) takeWrites() map[ipvs.Key]int {
	td.mu.Lock()
	defer td.mu.Unlock()
	w := td.writes
	td.writes = map[ipvs.Key]int{}
	return w
}

func (td *testDaemon) sync(ctx context.Context) (time.Duration, error) {
	return td.prog.SyncOnce(ctx, td.Source)
}

func (td *testDaemon) mustSync(t *testing.T) {
	t.Helper()
	if _, err := td.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var (
	webKey = ipvs.Key{Family: ipvs.IPv4, Address: mustAddr("192.0.2.10"), Protocol: ipvs.TCP, Port: 80}
	apiKey = ipvs.Key{Family: ipvs.IPv4, Address: mustAddr("192.0.2.11"), Protocol: ipvs.TCP, Port: 443}
)

// TestReloadTouchesOnlyWhatChanged: after a reload that edits one service,
// the other gets zero writes; an invalid or identical file changes nothing.
func TestReloadTouchesOnlyWhatChanged(t *testing.T) {
	td := newTestDaemon(t, twoServices)
	td.mustSync(t)
	if w := td.takeWrites(); w[webKey] != 3 || w[apiKey] != 3 {
		t.Fatalf("first sync writes: %v", w)
	}
	// Only the NAT service reaches the firewall.
	if got := td.fw.Last().Services; len(got) != 1 || got[0].Key != webKey || !td.fw.Last().MasqueradeAll {
		t.Fatalf("firewall state: %+v", td.fw.Last())
	}

	if err := td.ReloadContent("test", []byte(apiEdited)); err != nil {
		t.Fatal(err)
	}
	td.mustSync(t)
	if w := td.takeWrites(); w[webKey] != 0 || w[apiKey] != 1 {
		t.Fatalf("reload editing api: writes %v, want 1 to api and none to web", w)
	}

	before := td.kernel.Writes()
	for name, bad := range map[string]string{
		"invalid":   strings.Replace(apiEdited, "port: 443", "port: 0", 1),
		"interface": "interface: other0\n" + apiEdited,
		"garbage":   "services: [",
		"empty":     "",
		"blank":     " \n\t\n",
		"null":      "services: null\n",
	} {
		if err := td.ReloadContent(name, []byte(bad)); err == nil {
			t.Fatalf("%s reload accepted", name)
		}
		td.mustSync(t)
	}
	if err := td.ReloadContent("same", []byte(apiEdited)); err != nil {
		t.Fatal(err)
	}
	td.mustSync(t)
	if got := td.kernel.Writes(); got != before {
		t.Fatalf("rejected and identical reloads wrote %d times", got-before)
	}
	if got := td.cfg.Services[1].Backends[1].Weight; *got != 5 {
		t.Fatalf("running config lost after a rejected reload: weight %d", *got)
	}
}

// TestHealthTransitionWritesOneWeight: a backend going down is one weight
// update of its own service.
func TestHealthTransitionWritesOneWeight(t *testing.T) {
	cfg := twoServices + `
  - name: checked
    vip: 192.0.2.12
    port: 80
    healthCheck: {type: tcp}
    backends: [{address: 10.0.2.1}, {address: 10.0.2.2}]
`
	td := newTestDaemon(t, cfg)
	td.mustSync(t)
	td.takeWrites()
	id := probe.ID{Service: "checked", Backend: mustAddrPort("10.0.2.1:80")}
	tr := td.tr
	want, _, _ := tr.Translate(td.cfg, func(got probe.ID) bool { return got != id })
	if _, err := td.rec.Sync(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	key := ipvs.Key{Family: ipvs.IPv4, Address: mustAddr("192.0.2.12"), Protocol: ipvs.TCP, Port: 80}
	if w := td.takeWrites(); len(w) != 1 || w[key] != 1 {
		t.Fatalf("quiescing one backend: writes %v", w)
	}
}

// TestNodeAddresses: the host's addresses reach the firewall on every
// sync, sorted; a listing failure is reported but does not stop the
// firewall from being synced.
func TestNodeAddresses(t *testing.T) {
	td := newTestDaemon(t, twoServices)
	addrs := []netip.Addr{mustAddr("192.168.1.10"), mustAddr("::ffff:10.0.0.5"), mustAddr("2001:db8::1")}
	var listErr error
	td.deps.HostAddresses = func() ([]netip.Addr, error) { return addrs, listErr }
	td.mustSync(t)
	want := []netip.Addr{mustAddr("10.0.0.5"), mustAddr("192.168.1.10"), mustAddr("2001:db8::1")}
	if got := td.fw.Last().NodeAddresses; !slices.Equal(got, want) {
		t.Fatalf("node addresses %v, want %v", got, want)
	}

	addrs, listErr = nil, errors.New("netlink: busy")
	syncs, _ := td.fw.Calls()
	if _, err := td.sync(context.Background()); !errors.Is(err, listErr) {
		t.Fatalf("sync with a failed listing: %v, want it to wrap %v", err, listErr)
	}
	if n, _ := td.fw.Calls(); n != syncs+1 || len(td.fw.Last().Services) != 1 {
		t.Errorf("the firewall was not synced after a failed listing: %d syncs, %+v", n-syncs, td.fw.Last())
	}
}

package standalone

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
)

func TestCompare(t *testing.T) {
	web := "  - name: web\n    vip: 192.0.2.10\n    port: 80\n    backends: [{address: 10.0.0.1}, {address: 10.0.0.2}]\n"
	api := "  - name: api\n    vip: 192.0.2.11\n    port: 80\n    backends: [{address: 10.0.1.1}]\n"
	cases := []struct {
		name     string
		old, cur string
		want     Delta
	}{
		{"same", web + api, web + api, Delta{}},
		{"reordered", web + api, api + web, Delta{}},
		{"service added", web, web + api, Delta{ServicesAdded: 1, BackendsAdded: 1}},
		{"cut after the first service", web + api, web, Delta{ServicesRemoved: 1, BackendsRemoved: 1}},
		{"all removed", web + api, "", Delta{ServicesRemoved: 2, BackendsRemoved: 3}},
		{"renamed", api, strings.Replace(api, "name: api", "name: api2", 1), Delta{ServicesAdded: 1, ServicesRemoved: 1, BackendsAdded: 1, BackendsRemoved: 1}},
		{"weight changed", web, strings.Replace(web, "{address: 10.0.0.2}", "{address: 10.0.0.2, weight: 3}", 1), Delta{ServicesChanged: 1}},
		{"backend replaced", web, strings.Replace(web, "10.0.0.2", "10.0.0.3", 1), Delta{ServicesChanged: 1, BackendsAdded: 1, BackendsRemoved: 1}},
		{"scheduler changed", api, strings.Replace(api, "port: 80\n", "port: 80\n    scheduler: rr\n", 1), Delta{ServicesChanged: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Compare(mustParse(t, tc.old), mustParse(t, tc.cur)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func mustParse(t *testing.T, services string) *config.Config {
	t.Helper()
	src := "services:\n" + services
	if services == "" {
		src = "services: []\n"
	}
	c, err := config.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReloadLogsWhatChanges: every reload says how many services and
// backends it adds, removes and changes.
func TestReloadLogsWhatChanges(t *testing.T) {
	td := newTestDaemon(t, twoServices)
	core, logs := observer.New(zap.InfoLevel)
	td.log = zap.New(core)
	edited := strings.Replace(apiEdited, "backends: [{address: 10.0.0.1, weight: 2}, {address: 10.0.0.2}]",
		"backends: [{address: 10.0.0.1, weight: 2}, {address: 10.0.0.3}, {address: 10.0.0.4}]", 1)
	if err := td.ReloadContent("test", []byte(edited)); err != nil {
		t.Fatal(err)
	}
	entries := logs.FilterMessage("config reloaded").All()
	if len(entries) != 1 {
		t.Fatalf("%d reload lines: %v", len(entries), logs.All())
	}
	got := entries[0].ContextMap()
	want := map[string]any{"trigger": "test", "services": int64(2), "servicesAdded": int64(0), "servicesRemoved": int64(0),
		"servicesChanged": int64(2), "backendsAdded": int64(2), "backendsRemoved": int64(1)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, got[k], v, got)
		}
	}
}

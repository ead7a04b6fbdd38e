package standalone

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
)

// checkedConfig is n services of 4 health-checked backends; edit changes
// the file's text of service s0.
func checkedConfig(n int, edit func(i int, backends []string) []string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		backends := []string{}
		for j := range 4 {
			backends = append(backends, fmt.Sprintf("{address: 10.%d.%d.%d}", j, i/250, i%250+1))
		}
		if edit != nil {
			backends = edit(i, backends)
		}
		fmt.Fprintf(&b, "- {name: s%d, vip: 192.0.%d.%d, port: 80, healthCheck: {type: tcp, interval: 1h}, backends: [%s]}\n",
			i, 2+i/250, i%250+1, strings.Join(backends, ", "))
	}
	return b.String()
}

// TestReloadUpdatesChecksOfChangedServices: a reload that changes one
// service of 300 looks at that service's health checks alone and sets its
// gauges alone, and the checked set and the gauges end as they would for
// the new file from scratch.
func TestReloadUpdatesChecksOfChangedServices(t *testing.T) {
	const n = 300
	td := newTestDaemon(t, checkedConfig(n, nil))
	td.mustSync(t)
	steps := []struct {
		name    string
		edit    func(i int, b []string) []string
		want    probe.Counts
		targets int
	}{
		{"a weight", func(i int, b []string) []string {
			if i == 0 {
				b[0] = strings.Replace(b[0], "}", ", weight: 5}", 1)
			}
			return b
		}, probe.Counts{Examined: 8}, 4 * n},
		{"a backend removed", func(i int, b []string) []string {
			if i == 0 {
				return b[1:]
			}
			return b
		}, probe.Counts{Examined: 7, Stopped: 1}, 4*n - 1},
		{"a backend added", func(i int, b []string) []string {
			if i == 7 {
				return append(b, "{address: 10.9.9.9}")
			}
			return b
		}, probe.Counts{Examined: 4 + 5 + 4 + 3, Started: 2}, 4*n + 1},
	}
	for _, st := range steps {
		content := checkedConfig(n, st.edit)
		if err := td.ReloadContent(st.name, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if td.checksUpdated != st.want {
			t.Errorf("%s: checks updated %+v, want %+v", st.name, td.checksUpdated, st.want)
		}
		if got := len(td.monitor.Statuses()); got != st.targets {
			t.Errorf("%s: %d backends checked, want %d", st.name, got, st.targets)
		}
		if got := testutil.CollectAndCount(td.metrics.backendUp); got != st.targets {
			t.Errorf("%s: %d backend_up series, want %d", st.name, got, st.targets)
		}
		td.mustSync(t)
	}
}

// TestReloadSyncsTheFirewallOnlyWhenItChanged: a reload that leaves the
// firewall state as it was (a weight, a DR service) hands the firewall
// nothing to change; one that changes it (a NAT service's port,
// masquerade) does.
func TestReloadSyncsTheFirewallOnlyWhenItChanged(t *testing.T) {
	td := newTestDaemon(t, twoServices)
	td.mustSync(t)
	steps := []struct {
		name    string
		content string
		syncs   int // firewall updates that change something
	}{
		{"a NAT weight", strings.Replace(twoServices, "weight: 2}", "weight: 3}", 1), 0},
		{"a DR backend", strings.Replace(twoServices, "{address: 10.0.1.2}", "{address: 10.0.1.3}", 1), 0},
		{"a NAT port", strings.Replace(twoServices, "port: 80", "port: 8080", 1), 1},
		{"masquerade", "masquerade: local\n" + strings.Replace(twoServices, "port: 80", "port: 8080", 1), 1},
		{"unchanged again", "masquerade: local\n" + strings.Replace(twoServices, "port: 80", "port: 8080", 1), 0},
	}
	for _, st := range steps {
		before := td.fw.Changing()
		if err := td.ReloadContent(st.name, []byte(st.content)); err != nil {
			t.Fatal(err)
		}
		td.mustSync(t)
		if n := td.fw.Changing() - before; n != st.syncs {
			t.Errorf("%s: %d firewall updates changed something, want %d", st.name, n, st.syncs)
		}
	}
}

// TestReloadSendsTheVIPsOnlyWhenAServiceMoved: the VIP set (every
// service's address) goes with a reload's change only when a service
// came, went or changed its virtual server.
func TestReloadSendsTheVIPsOnlyWhenAServiceMoved(t *testing.T) {
	td := newTestDaemon(t, twoServices)
	td.mustSync(t)
	steps := []struct {
		name    string
		content string
		sent    bool
	}{
		{"a weight", strings.Replace(twoServices, "weight: 2}", "weight: 3}", 1), false},
		{"a port", strings.Replace(twoServices, "port: 80", "port: 8080", 1), true},
		{"a service added", threeServices, true},
		{"a scheduler", strings.Replace(threeServices, "    port: 53\n", "    port: 53\n    scheduler: rr\n", 1), false},
		{"a service removed", twoServices, true},
	}
	for _, st := range steps {
		if err := td.ReloadContent(st.name, []byte(st.content)); err != nil {
			t.Fatal(err)
		}
		ch, err := td.Changes(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Update.SetAddresses != st.sent {
			t.Errorf("%s: addresses sent %v, want %v", st.name, ch.Update.SetAddresses, st.sent)
		}
	}
}

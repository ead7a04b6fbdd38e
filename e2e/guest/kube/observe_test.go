//go:build lab

package kube

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

const metricsURL = "http://127.0.0.1:10249/metrics" // --metrics-bind-address in ipvsdArgs

// metrics: /metrics, scraped as Prometheus would from the node, has the
// sync duration histogram down to 1 ms, the programmed counts, the
// programming latency, and traffic counters labelled with the Service's
// namespace, name and port that count what was sent to it.
func (e *env) metrics(t *testing.T) {
	svc := e.service(t, "metrics", nil, local(e.n.be1))
	vip := hostPort(svc.Spec.ClusterIP, 80)
	e.programmed(t, vip, 1)
	const sent = 3
	backendsSeen(t, e.n.pod.NS, vip, sent, "")

	guestutil.Eventually(t, 30*time.Second, func() string {
		ss, err := scrape(metricsURL)
		if err != nil {
			return err.Error()
		}
		var missing []string
		want := func(ok bool, what string) {
			if !ok {
				missing = append(missing, what)
			}
		}
		anyValue := func(float64) bool { return true }
		want(ss.has("ipvsd_sync_duration_seconds_bucket", anyValue, `result="ok"`, `le="0.001"`), "a 1 ms sync duration bucket")
		want(ss.has("ipvsd_sync_duration_seconds_count", func(v float64) bool { return v > 0 }, `result="ok"`), "successful syncs counted")
		want(ss.has("ipvsd_virtual_servers", func(v float64) bool { return v > 0 }), "programmed virtual servers")
		want(ss.has("ipvsd_real_servers", func(v float64) bool { return v > 0 }), "programmed real servers")
		want(ss.has("ipvsd_network_programming_duration_seconds_count", func(v float64) bool { return v > 0 }), "network programming latency observed")
		vsLabels := []string{`namespace="e2e"`, `service="metrics"`, `port="http"`, `virtual_server="TCP ` + vip + `"`}
		want(ss.has("ipvsd_virtual_server_connections_total", func(v float64) bool { return v >= sent }, vsLabels...),
			fmt.Sprintf("at least %d connections counted for e2e/metrics:http", sent))
		want(ss.has("ipvsd_virtual_server_in_bytes_total", func(v float64) bool { return v > 0 }, vsLabels...), "bytes counted for e2e/metrics:http")
		if len(missing) > 0 {
			return fmt.Sprintf("/metrics lacks %s:\n%s", strings.Join(missing, ", "), ss.grep("ipvsd_"))
		}
		return ""
	})
}

// sample is one line of the Prometheus text format.
type sample struct {
	name, labels string // labels as printed, without braces
	value        float64
}

type samples []sample

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)

// scrape reads url and parses the samples of the text format: enough to
// look metrics up by name and labels without a Prometheus dependency.
func scrape(url string) (samples, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scraping: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("scraping %s: %s %s", url, resp.Status, b)
	}
	var out samples
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue // comments, blank lines
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("scraping %s: value of %q: %w", url, sc.Text(), err)
		}
		out = append(out, sample{name: m[1], labels: m[2], value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return out, nil
}

// has reports whether a sample named name carries every label (`k="v"`)
// and a value ok accepts.
func (ss samples) has(name string, ok func(float64) bool, labels ...string) bool {
	for _, s := range ss {
		if s.name != name || !ok(s.value) {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(","+s.labels+",", ","+l+",")
		}
		if all {
			return true
		}
	}
	return false
}

// grep lists the samples whose name starts with prefix, for failures.
func (ss samples) grep(prefix string) string {
	var b strings.Builder
	for _, s := range ss {
		if strings.HasPrefix(s.name, prefix) {
			fmt.Fprintf(&b, "%s{%s} %g\n", s.name, s.labels, s.value)
		}
	}
	return b.String()
}

// unprogrammable: objects the API server accepts but IPVS cannot use are
// skipped with a Warning Event on the object at fault, and everything else
// is programmed: an EndpointSlice port out of range (EndpointSlice
// validation does not check port numbers) and a Service external IP of a
// family the service has no cluster IP of (externalIPs are not checked
// against the service's families).
func (e *env) unprogrammable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := apiserver.CreateService(ctx, e.c, apiserver.NewService(testNS, "badport",
		apiserver.TCPPort("http", 80, webPort), apiserver.TCPPort("echo", echoPort, echoPort)))
	if err != nil {
		t.Fatal(err)
	}
	slice := apiserver.NewEndpointSlice(svc, "badport-1", []apiserver.Endpoint{local(e.n.be1)},
		apiserver.SlicePort("http", 70000), apiserver.SlicePort("echo", echoPort))
	if _, err := apiserver.CreateEndpointSlice(ctx, e.c, slice); err != nil {
		t.Fatalf("the API server refused the out-of-range port this test relies on: %v", err)
	}
	const extIP = "192.168.100.30"
	badExt := e.service(t, "badext", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"2001:db8::30", extIP} },
		local(e.n.be1))
	// Created after the faulty objects: syncs go on after their problems.
	good := e.service(t, "goodneighbour", nil, local(e.n.be1), remote(e.n.be2))

	// The bad port resolves to nothing: no real server, so the firewall
	// rejects, while the slice's other port works.
	e.programmed(t, hostPort(svc.Spec.ClusterIP, 80), 0)
	echoVIP := hostPort(svc.Spec.ClusterIP, echoPort)
	e.programmed(t, echoVIP, 1)
	if greet, c, err := e.n.pod.TCPHello(echoVIP, 5*time.Second); err != nil || greet != "be1" {
		t.Errorf("badport's good port %s: greeting %q, %v", echoVIP, greet, err)
	} else {
		c.Close()
	}
	// The wrong-family external IP is left out, the rest of badext is not.
	for _, vip := range []string{hostPort(badExt.Spec.ClusterIP, 80), hostPort(extIP, 80)} {
		e.programmed(t, vip, 1)
		if seen := backendsSeen(t, e.n.pod.NS, vip, 2, ""); seen["be1"] != 2 {
			t.Errorf("badext via %s: backends %v, want be1", vip, seen)
		}
	}
	goodVIP := hostPort(good.Spec.ClusterIP, 80)
	e.programmed(t, goodVIP, 2)
	if seen := backendsSeen(t, e.n.pod.NS, goodVIP, 6, ""); len(seen) != 2 {
		t.Errorf("goodneighbour: backends %v, want both", seen)
	}

	e.warningEvent(t, "EndpointSlice", "badport-1", "InvalidPort", "70000")
	e.warningEvent(t, "Service", "badext", "InvalidAddress", "2001:db8::30")
}

// warningEvent waits for a Warning Event with reason on kind/name whose
// message mentions what.
func (e *env) warningEvent(t *testing.T, kind, name, reason, what string) {
	t.Helper()
	guestutil.Eventually(t, 30*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs, err := e.c.CoreV1().Events(testNS).List(ctx, listFor(name))
		if err != nil {
			return err.Error()
		}
		var got []string
		for _, ev := range evs.Items {
			if ev.InvolvedObject.Kind == kind && ev.Type == corev1.EventTypeWarning && ev.Reason == reason && strings.Contains(ev.Message, what) {
				return ""
			}
			got = append(got, fmt.Sprintf("%s %s %s: %s", ev.InvolvedObject.Kind, ev.Type, ev.Reason, ev.Message))
		}
		return fmt.Sprintf("no Warning %s Event on %s %s mentioning %s; events: %v", reason, kind, name, what, got)
	})
}

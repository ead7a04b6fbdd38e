//go:build lab

package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/guestutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const livezURL = "http://" + healthzAddr + "/livez"

// kubeProxySeries are the series the kubernetes-mixin's Proxy dashboard
// and alerts query (by name and the labels they group by), and the
// answers of kube-proxy's health endpoints.
var kubeProxySeries = []struct {
	name   string
	labels []string
}{
	{"kubeproxy_sync_proxy_rules_duration_seconds_count", []string{`ip_family="IPv4"`}},
	{"kubeproxy_sync_proxy_rules_duration_seconds_bucket", []string{`ip_family="IPv4"`, `le="+Inf"`}},
	{"kubeproxy_sync_full_proxy_rules_duration_seconds_count", []string{`ip_family="IPv4"`}},
	{"kubeproxy_sync_proxy_rules_last_timestamp_seconds", []string{`ip_family="IPv4"`}},
	{"kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", []string{`ip_family="IPv4"`}},
	{"kubeproxy_network_programming_duration_seconds_count", []string{`ip_family="IPv4"`}},
	{"kubeproxy_network_programming_duration_seconds_bucket", []string{`ip_family="IPv4"`, `le="+Inf"`}},
	{"kubeproxy_sync_proxy_rules_endpoint_changes_total", nil},
	{"kubeproxy_sync_proxy_rules_service_changes_total", nil},
	{"kubeproxy_proxy_healthz_total", []string{`code="200"`}},
	{"kubeproxy_proxy_livez_total", []string{`code="200"`}},
	// (Request latency is observed when a request ends; client-go's
	// informers stream their lists over watches that do not end, so
	// rest_client_request_duration_seconds may have no sample yet.)
	{"rest_client_requests_total", []string{`code="200"`, `method="GET"`}},
	{"process_resident_memory_bytes", nil},
	{"process_cpu_seconds_total", nil},
	{"go_goroutines", nil},
}

// kubeProxyObservability: a kube-proxy dashboard finds its series on
// /metrics with values, /livez and /healthz answer with kube-proxy's
// JSON, and a node the cluster autoscaler is about to delete fails
// /healthz (so load balancers drain it) but not /livez (so the kubelet
// does not restart the proxy).
func (e *env) kubeProxyObservability(t *testing.T) {
	svc := e.service(t, "kp-metrics", nil, local(e.n.be1))
	e.programmed(t, hostPort(svc.Spec.ClusterIP, 80), 1)
	healthGet(t, livezURL) // counted in kubeproxy_proxy_livez_total
	guestutil.Eventually(t, 30*time.Second, func() string {
		ss, err := scrape(metricsURL)
		if err != nil {
			return err.Error()
		}
		var missing []string
		for _, s := range kubeProxySeries {
			if !ss.has(s.name, func(v float64) bool { return v > 0 }, s.labels...) {
				missing = append(missing, s.name+"{"+strings.Join(s.labels, ",")+"} > 0")
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("/metrics lacks %s:\n%s%s", strings.Join(missing, ", "), ss.grep("kubeproxy_"), ss.grep("rest_client_"))
		}
		return ""
	})

	if code, b := healthGet(t, healthzURL); code != 200 || b["nodeEligible"] != true || b["healthy"] != true {
		t.Errorf("/healthz: %d %v", code, b)
	}
	setAutoscalerTaint(t, e, true)
	guestutil.Eventually(t, 30*time.Second, func() string {
		code, b := healthGet(t, healthzURL)
		if code != http.StatusServiceUnavailable || b["nodeEligible"] != false {
			return fmt.Sprintf("/healthz of a node about to be deleted: %d %v", code, b)
		}
		if code, b := healthGet(t, livezURL); code != 200 {
			return fmt.Sprintf("/livez of a node about to be deleted: %d %v", code, b)
		}
		return ""
	})
	setAutoscalerTaint(t, e, false)
	guestutil.Eventually(t, 30*time.Second, func() string {
		if code, b := healthGet(t, healthzURL); code != 200 {
			return fmt.Sprintf("/healthz after the taint went: %d %v", code, b)
		}
		return ""
	})
}

func setAutoscalerTaint(t *testing.T, e *env, on bool) {
	t.Helper()
	e.updateNode(t, func(n *corev1.Node) {
		var taints []corev1.Taint
		for _, tt := range n.Spec.Taints {
			if tt.Key != "ToBeDeletedByClusterAutoscaler" {
				taints = append(taints, tt)
			}
		}
		if on {
			taints = append(taints, corev1.Taint{Key: "ToBeDeletedByClusterAutoscaler", Value: "1", Effect: corev1.TaintEffectNoSchedule})
		}
		n.Spec.Taints = taints
	})
}

// updateNode reads this node, changes it with edit and writes it back.
func (e *env) updateNode(t *testing.T, edit func(*corev1.Node)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := e.c.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit(n)
	if _, err := e.c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// healthGet returns the status and JSON body of a health endpoint.
func healthGet(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: body %q: %v", url, b, err)
	}
	for _, k := range []string{"lastUpdated", "currentTime", "healthy"} {
		if _, ok := body[k]; !ok {
			t.Errorf("GET %s: no %q in %s", url, k, b)
		}
	}
	return resp.StatusCode, body
}

// foreignConflict: a virtual server someone else made with ipvsadm on
// the address and port a Service wants is left alone; the Service gets a
// Warning Event and ipvsd_conflicts counts it, and neither /livez nor
// /healthz fails for it (a liveness probe must never restart-loop ipvsd
// over state it does not own). Once the foreign one is gone, ipvsd takes
// the address at its next full resync.
func (e *env) foreignConflict(t *testing.T) {
	const vip = "10.96.77.77"
	guestutil.Run(t, "ipvsadm", "-A", "-t", vip+":80", "-s", "wlc")
	t.Cleanup(func() { _ = exec.Command("ipvsadm", "-D", "-t", vip+":80").Run() })
	e.service(t, "foreign", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = vip, []string{vip} }, local(e.n.be1))
	e.warningEvent(t, "Service", "foreign", "ForeignVirtualServer", "TCP "+vip+":80")
	if got := virtualServer(t, "TCP", vip+":80"); !strings.Contains(got, "wlc") || strings.Contains(got, "->") {
		t.Errorf("the foreign virtual server was touched:\n%s", got)
	}
	guestutil.Eventually(t, 30*time.Second, func() string {
		ss, err := scrape(metricsURL)
		if err != nil {
			return err.Error()
		}
		if !ss.has("ipvsd_conflicts", func(v float64) bool { return v == 1 }) {
			return "ipvsd_conflicts is not 1:\n" + ss.grep("ipvsd_conflicts")
		}
		return ""
	})
	for _, url := range []string{livezURL, healthzURL} {
		if code, b := healthGet(t, url); code != http.StatusOK {
			t.Errorf("%s with a conflict: %d %v", url, code, b)
		}
	}
	guestutil.Run(t, "ipvsadm", "-D", "-t", vip+":80")
	e.programmed(t, hostPort(vip, 80), 1)
}

package informer

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
)

func get(t *testing.T, h http.Handler) (int, healthBody) {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/", nil))
	var b healthBody
	if err := json.Unmarshal(rr.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", rr.Body, err)
	}
	if ct := rr.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	return rr.Code, b
}

// TestHealthHandlers: kube-proxy's /livez and /healthz, step by step in
// fake time.
func TestHealthHandlers(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	m := dataplane.NewMetrics(dataplane.StatsConfig{}, func() time.Time { return now })
	eligible := true
	h := NewHealthHandlers(m, time.Minute, func() bool { return eligible }, m.Registry)
	type want struct{ livez, healthz int }
	step := func(what string, w want) {
		t.Helper()
		lc, lb := get(t, h.Livez)
		hc, hb := get(t, h.Healthz)
		if lc != w.livez || hc != w.healthz {
			t.Errorf("%s: /livez %d /healthz %d, want %d %d", what, lc, hc, w.livez, w.healthz)
		}
		if lb.NodeEligible != nil || hb.NodeEligible == nil || *hb.NodeEligible != eligible || !hb.CurrentTime.Equal(now) {
			t.Errorf("%s: bodies %+v %+v", what, lb, hb)
		}
	}
	step("start: alive, not yet programmed", want{200, 503})
	m.ObserveQueued()
	now = now.Add(59 * time.Second)
	step("a change waits, within the timeout", want{200, 503})
	m.ObserveSync(time.Second, nil)
	step("synced", want{200, 200})
	m.ObserveQueued()
	now = now.Add(time.Minute)
	step("a change waited a whole timeout", want{503, 503})
	m.ObserveSync(time.Second, errSome)
	step("a sync ran, with errors: alive", want{200, 200})
	eligible = false
	step("node about to be deleted", want{200, 503})

	got := dataplanetest.Scrape(t, m.MetricsHandler(), "kubeproxy_proxy_")
	for series, n := range map[string]float64{
		`kubeproxy_proxy_livez_total{code="200"}`: 5, `kubeproxy_proxy_livez_total{code="503"}`: 1,
		`kubeproxy_proxy_healthz_total{code="200"}`: 2, `kubeproxy_proxy_healthz_total{code="503"}`: 4,
	} {
		if got[series] != n {
			t.Errorf("%s = %v, want %v", series, got[series], n)
		}
	}
}

var errSome = errors.New("netlink: device busy")

func TestNodeEligible(t *testing.T) {
	deleting := metav1.NewTime(time.Unix(1, 0))
	for _, tc := range []struct {
		name string
		node *corev1.Node
		want bool
	}{
		{"no node", nil, false},
		{"plain", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, true},
		{"other taint", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}}}, true},
		{"autoscaler deletes it", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: ToBeDeletedTaint, Effect: corev1.TaintEffectNoSchedule}}}}, false},
		{"being deleted", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", DeletionTimestamp: &deleting, Finalizers: []string{"x"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tc.node != nil {
				client = fake.NewClientset(tc.node)
			}
			src := startSource(t, Config{NodeName: "node-a"}, Deps{Client: client})
			if got := src.NodeEligible(); got != tc.want {
				t.Errorf("eligible %t, want %t", got, tc.want)
			}
		})
	}
}

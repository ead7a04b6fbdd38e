package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	componentbaseconfig "k8s.io/component-base/config/v1alpha1"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/dataplane/dataplanetest"
)

// TestRESTClientMetrics: requests through the client ipvsd builds show in
// client-go's rest_client_* series, which kube-proxy's dashboards read.
func TestRESTClientMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"ServiceList","apiVersion":"v1","items":[]}`))
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+srv.URL+`"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	client, _, err := kubeClient("", componentbaseconfig.ClientConnectionConfiguration{Kubeconfig: kubeconfig, ContentType: "application/json", QPS: 5, Burst: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services("").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	m := dataplane.NewMetrics(dataplane.StatsConfig{}, nil)
	m.AddGatherer(dataplane.PrefixGatherer(legacyregistry.DefaultGatherer, "rest_client_"))
	got := dataplanetest.Scrape(t, m.MetricsHandler(), "rest_client_request")
	var names []string
	for k := range got {
		names = append(names, k)
	}
	for _, want := range []string{`rest_client_requests_total{code="200",host=`, `rest_client_request_duration_seconds_count{host=`} {
		found := false
		for _, n := range names {
			found = found || strings.HasPrefix(n, want)
		}
		if !found {
			t.Errorf("no %s... in %v", want, names)
		}
	}
}

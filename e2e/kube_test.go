package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/manifest"
)

// TestLabKubeAPIServer runs e2e/guest/kube in the VM against a real etcd
// and kube-apiserver on the host's loopback (10.0.2.2 from the guest): a
// smoke test of the path with client-go, then `ipvsd run` with real
// traffic. The host creates the smoke objects; the guest tests create the
// rest themselves and ask the host, by console markers, to stop and start
// the API server.
func TestLabKubeAPIServer(t *testing.T) {
	s := apiserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := apiserver.EnsureNamespace(ctx, s.Admin, "smoke"); err != nil {
		t.Fatal(err)
	}
	svc, err := apiserver.CreateService(ctx, s.Admin, apiserver.NewService("smoke", "web", apiserver.TCPPort("http", 80, 8080)))
	if err != nil {
		t.Fatal(err)
	}
	slice := apiserver.NewEndpointSlice(svc, "web-1", []apiserver.Endpoint{{IP: "10.244.1.2", Node: "lab"}}, apiserver.SlicePort("http", 8080))
	if _, err := apiserver.CreateEndpointSlice(ctx, s.Admin, slice); err != nil {
		t.Fatal(err)
	}
	if _, err := apiserver.CreateNode(ctx, s.Admin, "lab", nil, "10.0.2.15"); err != nil {
		t.Fatal(err)
	}
	files, err := s.GuestFiles()
	if err != nil {
		t.Fatal(err)
	}
	// For TestInClusterRBAC, which runs ipvsd with the manifests' RBAC.
	manifests, err := manifest.GuestFiles()
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, manifests...)

	ipvsd := lab.IPVSD(t)
	// The real kube-proxy: TestDataPlaneCoverage compares ipvsd's topology
	// choices with its table.
	bins, err := apiserver.EnsureBinaries()
	if err != nil {
		t.Fatal(err)
	}
	// A broken daemon costs each subtest its one-minute wait: give the
	// guest room to report every failure instead of a timeout panic.
	args := []string{"-test.timeout=9m"}
	// IPVSD_E2E_KUBE_RUN narrows the guest tests while working on one, as
	// in IPVSD_E2E_KUBE_RUN=TestIPVSDRun/NodePort.
	if run := os.Getenv("IPVSD_E2E_KUBE_RUN"); run != "" {
		args = append(args, "-test.run="+run)
	}

	bootWithAPIServer(t, s, lab.Config{
		Run:     lab.BuildTests(t, []string{"./e2e/guest/kube"}, args...),
		Tools:   []lab.Binary{ipvsd, {Name: "kube-proxy", HostPath: bins.KubeProxy}},
		Files:   files,
		Network: true,
		Env:     map[string]string{"IPVSD_E2E_SMOKE_CLUSTERIP": svc.Spec.ClusterIP},
		Timeout: 11 * time.Minute,
	})
}

// bootWithAPIServer boots cfg with s's console, through which the guest
// tests ask the host to stop and start the API server, and fails t unless
// the guest exited 0.
func bootWithAPIServer(t *testing.T, s *apiserver.Server, cfg lab.Config) {
	t.Helper()
	console := s.Console(t)
	res, err := lab.Boot(context.Background(), cfg, console)
	actions, actErr := console.Close()
	if err != nil {
		t.Errorf("lab: %v", err)
	}
	if actErr != nil {
		t.Error(actErr)
	}
	t.Logf("lab: VM exit status %d, wall time %s, host actions %v", res.ExitCode, res.Wall.Round(time.Millisecond), actions)
	if res.ExitCode != 0 {
		t.Fatalf("lab VM failed: exit status %d (timed out: %v)", res.ExitCode, res.TimedOut)
	}
}

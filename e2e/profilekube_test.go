package e2e

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

// TestLabProfileKube profiles `ipvsd run --profiling` in the lab against
// the real API server (e2e/guest/profilekube): PROFILE_SERVICES Services
// x PROFILE_ENDPOINTS endpoints, created from the host before the daemon
// starts, then a cold start, PROFILE_CHANGES single-endpoint changes and
// PROFILE_IDLE seconds idle; PROFILE_GOMEMLIMIT, if set, is the daemon's
// GOMEMLIMIT, which leaves collection to Go's defaults and that limit
// ("off": none), to measure without ipvsd's pacing (internal/gcpace). It runs
// only when IPVSD_PROFILE_KUBE_DIR names the directory for the profiles;
// IPVSD_BIN profiles another build of ipvsd (a "before" binary) instead
// of the tree's.
func TestLabProfileKube(t *testing.T) {
	dir := os.Getenv("IPVSD_PROFILE_KUBE_DIR")
	if dir == "" {
		t.Skip("IPVSD_PROFILE_KUBE_DIR is not set: a profiling run, not a test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 1000
	if v := os.Getenv("PROFILE_SERVICES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("PROFILE_SERVICES=%q: want a positive number", v)
		}
	}
	endpoints := 10
	if v := os.Getenv("PROFILE_ENDPOINTS"); v != "" {
		var err error
		if endpoints, err = strconv.Atoi(v); err != nil || endpoints <= 0 {
			t.Fatalf("PROFILE_ENDPOINTS=%q: want a positive number", v)
		}
	}
	s := apiserver.Start(t)
	files := profileKubeObjects(t, s, n, endpoints)
	ipvsd := lab.Binary{Name: "ipvsd", HostPath: os.Getenv("IPVSD_BIN")}
	if ipvsd.HostPath == "" {
		ipvsd = lab.IPVSD(t)
	}
	env := map[string]string{"PROFILE_SERVICES": strconv.Itoa(n), "PROFILE_ENDPOINTS": strconv.Itoa(endpoints)}
	for _, k := range []string{"PROFILE_CHANGES", "PROFILE_WINDOW", "PROFILE_MAX_WINDOWS", "PROFILE_IDLE", "PROFILE_GOMEMLIMIT"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	console := s.Console(t)
	profiles := lab.NewProfileSplitter(dir, console)
	res, err := lab.Boot(context.Background(), lab.Config{
		Run:      lab.BuildTests(t, []string{"./e2e/guest/profilekube"}, "-test.v", "-test.timeout=50m"),
		Tools:    []lab.Binary{ipvsd},
		Files:    files,
		Network:  true,
		Env:      env,
		MemoryMB: 4096,
		Timeout:  55 * time.Minute,
	}, profiles)
	if _, actErr := console.Close(); actErr != nil {
		t.Error(actErr)
	}
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	if profiles.Err() != nil {
		t.Error(profiles.Err())
	}
	t.Logf("lab: VM exit status %d, wall time %s; %d profiles in %s (go tool pprof -top %s/cold-cpu-1.pprof)",
		res.ExitCode, res.Wall.Round(time.Millisecond), len(profiles.Written()), dir, dir)
	if res.ExitCode != 0 {
		t.Fatalf("lab VM failed: exit status %d (timed out: %v)", res.ExitCode, res.TimedOut)
	}
}

// profileKubeObjects creates the Node and the n Services and returns the
// guest's kubeconfig files.
func profileKubeObjects(t *testing.T, s *apiserver.Server, n, endpoints int) []lab.File {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if _, err := apiserver.CreateNode(ctx, s.Admin, "lab", nil, "10.0.2.15"); err != nil {
		t.Fatal(err)
	}
	bulk, err := s.BulkAdmin()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := apiserver.CreateScale(ctx, bulk, "prof", n, endpoints, 8); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d Services x %d endpoints in %s", n, endpoints, time.Since(start).Round(time.Millisecond))
	files, err := s.GuestFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

//go:build lab

package profilekube

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

// TestProfileKube is the guest half of the host's TestLabProfileKube,
// which created the Services and passes their number in PROFILE_SERVICES.
func TestProfileKube(t *testing.T) {
	cfg := Config{
		Namespace:  envString("PROFILE_NAMESPACE", "prof"),
		Services:   envInt(t, "PROFILE_SERVICES", 1000),
		Endpoints:  envInt(t, "PROFILE_ENDPOINTS", 10),
		Changes:    envInt(t, "PROFILE_CHANGES", 20),
		Window:     time.Duration(envInt(t, "PROFILE_WINDOW", 20)) * time.Second,
		MaxWindows: envInt(t, "PROFILE_MAX_WINDOWS", 40),
		Idle:       time.Duration(envInt(t, "PROFILE_IDLE", 60)) * time.Second,
		Args: []string{"run", "--kubeconfig=" + apiserver.GuestProxyKubeconfig, "--hostname-override=lab",
			"--cluster-cidr=10.244.0.0/16", "--healthz-bind-address=127.0.0.1:10256",
			"--metrics-bind-address=127.0.0.1:10249", "--profiling", "--ipvs-min-sync-period=0"},
		PprofURL: "http://127.0.0.1:10249/debug/pprof",
		Out:      os.Stdout,
		Log:      "/tmp/ipvsd.log",
	}
	if v := os.Getenv("PROFILE_GOMEMLIMIT"); v != "" {
		cfg.Env = []string{"GOMEMLIMIT=" + v}
	}
	c := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	f, err := Run(context.Background(), c, cfg)
	if b, rerr := os.ReadFile(cfg.Log); rerr == nil && (err != nil || testing.Verbose()) {
		t.Logf("ipvsd log (tail):\n%s", tail(string(b), 40))
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Changes) != cfg.Changes || f.RealServers < cfg.Services*cfg.Endpoints {
		t.Errorf("measured %d changes and %d real servers, want %d and at least %d", len(f.Changes), f.RealServers, cfg.Changes, cfg.Services*cfg.Endpoints)
	}
}

func envString(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(t *testing.T, k string, def int) int {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", k, v)
	}
	return n
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

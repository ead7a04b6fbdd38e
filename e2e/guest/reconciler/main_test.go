//go:build lab

package reconciler

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/ipvs"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// node is one reconciler process's worth of state: its host environment and
// reconciler. Several nodes made one after another on the same record path
// model daemon restarts.
type node struct {
	env *hostenv.Env
	rec *reconciler.Reconciler
	log *zap.Logger
}

func newNode(t *testing.T, record string, cfg reconciler.Config) *node {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	env, err := hostenv.Open(hostenv.Options{SetSysctls: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RecordPath = record
	rec, err := reconciler.New(cfg, env.Deps(log))
	if err != nil {
		env.Close()
		t.Fatal(err)
	}
	return &node{env: env, rec: rec, log: log}
}

func (n *node) close() { n.env.Close() }

// ipvsadm runs the guest's ipvsadm.
func ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// expectTable renders what ipvsadm -Ln must print for these services (no
// traffic: all connection counts zero).
func expectTable(t *testing.T, h *ipvs.Handle, svcs []ipvs.ServiceWithDests) string {
	t.Helper()
	info, err := h.Info()
	if err != nil {
		t.Fatal(err)
	}
	return ipvs.RenderString(svcs, ipvs.RenderOptions{Info: info, Order: ipvs.OrderIpvsadm})
}

// asTable turns desired virtual servers into the table the kernel should
// hold, in the form a dump returns it.
func asTable(vss []desired.VirtualServer) []ipvs.ServiceWithDests {
	out := make([]ipvs.ServiceWithDests, 0, len(vss))
	for _, vs := range vss {
		out = append(out, ipvs.ServiceWithDests{Service: vs.Service.Canonical(), Destinations: ipvs.Listed(vs.Destinations)})
	}
	return out
}

// cleanKernel starts the test from an empty IPVS table (see lab.ResetIPVS)
// and returns an ownership record path of its own.
func cleanKernel(t *testing.T) string {
	t.Helper()
	lab.ResetIPVS(t, hostenv.DefaultInterface)
	return filepath.Join(t.TempDir(), "state.json")
}

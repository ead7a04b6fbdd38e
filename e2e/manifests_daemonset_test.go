package e2e

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/ipvsd/ipvsd/controller/proxyconfig"
	"github.com/ipvsd/ipvsd/e2e/lab"
	"github.com/ipvsd/ipvsd/e2e/manifest"
)

// Figures the DaemonSet is sized from (issue 15, kernel lab, Kubernetes
// mode, 10 endpoints per Service): a cold start of 5,000 Services took
// 42.6 s, and the peak RSS at 1,000 Services was 69 MB.
const (
	coldSync10k   = 2 * 42600 * time.Millisecond // 10,000 Services, linearly
	peakRSS1000   = 69 << 20
	startupMargin = 4 // the startup probe's window over coldSync10k at least
)

// allowedHostPaths are the host paths the pod may mount, each with its
// hostPath type and whether it must be read-only: nothing else of the
// host, and in particular not the whole /run.
var allowedHostPaths = map[string]struct {
	types    []corev1.HostPathType
	readOnly bool
}{
	"/run/ipvsd":        {types: []corev1.HostPathType{corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory}},
	"/run/xtables.lock": {types: []corev1.HostPathType{corev1.HostPathFileOrCreate, corev1.HostPathFile}},
	"/lib/modules":      {types: []corev1.HostPathType{corev1.HostPathDirectory}, readOnly: true},
}

// dsEnv is what the DaemonSet checks look at: the DaemonSet, its one
// container, the rest of the manifests and ipvsd's parsed config file.
type dsEnv struct {
	ds       *appsv1.DaemonSet
	c        corev1.Container
	objs     []manifest.Object
	cfg      proxyconfig.Config
	imageRef string // what `make image-ref` says the release image is
}

// TestManifestsDaemonSet checks the DaemonSet against the rules of issue
// 12 and against the rest of the manifests, the Makefile's release and
// ipvsd's own reading of the ConfigMap.
func TestManifestsDaemonSet(t *testing.T) {
	e := newDSEnv(t)
	for _, c := range []struct {
		name  string
		check func(dsEnv) error
	}{
		{"image is the release of the Makefile, pinned", checkImage},
		{"host network, DNS not from the cluster", checkNetwork},
		{"only the host paths needed, modules read-only", checkHostPaths},
		{"config file mounted where --config reads it", checkConfigMount},
		{"ownership record on the host's /run/ipvsd", checkRecordPath},
		{"startup probe on /healthz sized for 10,000 Services", checkStartupProbe},
		{"liveness on /livez, readiness on /healthz at healthzBindAddress", checkProbes},
		{"resource requests from the benchmarks, no limits", checkResources},
		{"service account bound to the ClusterRole", checkServiceAccount},
		{"take-over flag not on by default", checkNoTakeOver},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(e); err != nil {
				t.Error(err)
			}
		})
	}
}

func newDSEnv(t *testing.T) dsEnv {
	t.Helper()
	objs := loadManifests(t)
	ds, err := manifest.One[*appsv1.DaemonSet](objs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ds.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the DaemonSet has %d containers, want 1", n)
	}
	cm, err := manifest.One[*corev1.ConfigMap](objs)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := proxyconfig.Decode([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("ConfigMap %s config.yaml: %v", cm.Name, err)
	}
	proxyconfig.SetDefaults(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("ConfigMap %s config.yaml: %v", cm.Name, err)
	}
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "image-ref")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make image-ref: %v", err)
	}
	return dsEnv{ds: ds, c: ds.Spec.Template.Spec.Containers[0], objs: objs, cfg: cfg,
		imageRef: strings.TrimSpace(string(out))}
}

func checkImage(e dsEnv) error {
	img := e.c.Image
	i := strings.LastIndex(img, ":")
	if i < 0 || strings.Contains(img[i:], "/") || img[i+1:] == "latest" || strings.Contains(img, "@") {
		return fmt.Errorf("image %q has no pinned tag", img)
	}
	if img != e.imageRef {
		return fmt.Errorf("image %q, but the Makefile releases %q (file VERSION)", img, e.imageRef)
	}
	if e.c.ImagePullPolicy == corev1.PullAlways {
		return errors.New("imagePullPolicy Always: a pinned tag needs no pull at every start")
	}
	return nil
}

func checkNetwork(e dsEnv) error {
	spec := e.ds.Spec.Template.Spec
	if !spec.HostNetwork {
		return errors.New("not hostNetwork: ipvsd would program the pod's namespace, not the node's")
	}
	if spec.DNSPolicy != corev1.DNSDefault {
		return fmt.Errorf("dnsPolicy %q: only Default does not depend on cluster DNS, which ipvsd programs", spec.DNSPolicy)
	}
	return nil
}

func checkHostPaths(e dsEnv) error {
	spec := e.ds.Spec.Template.Spec
	var errs []error
	seen := map[string]bool{}
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		p := path.Clean(v.HostPath.Path)
		allowed, ok := allowedHostPaths[p]
		if !ok {
			errs = append(errs, fmt.Errorf("volume %s mounts host path %s, which ipvsd does not need", v.Name, p))
			continue
		}
		seen[p] = true
		if v.HostPath.Type == nil || !slices.Contains(allowed.types, *v.HostPath.Type) {
			errs = append(errs, fmt.Errorf("volume %s (%s): type %v, want one of %v", v.Name, p, v.HostPath.Type, allowed.types))
		}
		for _, m := range e.c.VolumeMounts {
			if m.Name != v.Name {
				continue
			}
			if path.Clean(m.MountPath) != p {
				errs = append(errs, fmt.Errorf("host path %s mounted at %s: ipvsd and the tools look for it at %s", p, m.MountPath, p))
			}
			if allowed.readOnly && !m.ReadOnly {
				errs = append(errs, fmt.Errorf("host path %s is mounted read-write", p))
			}
		}
	}
	for p := range allowedHostPaths {
		if !seen[p] {
			errs = append(errs, fmt.Errorf("host path %s is not mounted", p))
		}
	}
	return errors.Join(errs...)
}

// configArg is the value of --config in the container's args.
func configArg(c corev1.Container) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
	}
	return ""
}

func checkConfigMount(e dsEnv) error {
	file := configArg(e.c)
	if file == "" {
		return fmt.Errorf("no --config in args %q", e.c.Args)
	}
	cm, err := manifest.One[*corev1.ConfigMap](e.objs)
	if err != nil {
		return err
	}
	for _, m := range e.c.VolumeMounts {
		for _, v := range e.ds.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name &&
				path.Join(m.MountPath, "config.yaml") == file && m.ReadOnly {
				return nil
			}
		}
	}
	return fmt.Errorf("--config=%s is not ConfigMap %s's config.yaml mounted read-only", file, cm.Name)
}

func checkRecordPath(e dsEnv) error {
	if dir := path.Dir(e.cfg.IPVSD.RecordPath); dir != "/run/ipvsd" {
		return fmt.Errorf("recordPath %s is not in the host's /run/ipvsd, so a new pod would not find it", e.cfg.IPVSD.RecordPath)
	}
	return nil
}

// healthzPort is the port of the config's healthzBindAddress.
func healthzPort(e dsEnv) (int, error) {
	_, p, err := net.SplitHostPort(e.cfg.HealthzBindAddress)
	if err != nil {
		return 0, fmt.Errorf("healthzBindAddress %q: %w", e.cfg.HealthzBindAddress, err)
	}
	return strconv.Atoi(p)
}

// probeOn checks that p is an HTTP GET of path on the healthz port.
func probeOn(e dsEnv, kind string, p *corev1.Probe, want string) error {
	if p == nil || p.HTTPGet == nil {
		return fmt.Errorf("no HTTP %s probe", kind)
	}
	port, err := healthzPort(e)
	if err != nil {
		return err
	}
	if p.HTTPGet.Path != want || p.HTTPGet.Port.IntValue() != port {
		return fmt.Errorf("%s probe GETs %s on port %s, want %s on %d (healthzBindAddress)", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), want, port)
	}
	return nil
}

func checkStartupProbe(e dsEnv) error {
	p := e.c.StartupProbe
	if err := probeOn(e, "startup", p, "/healthz"); err != nil {
		return err
	}
	window := time.Duration(p.PeriodSeconds*p.FailureThreshold) * time.Second
	if window < startupMargin*coldSync10k {
		return fmt.Errorf("startup window %s (%d x %ds), want at least %s (%dx a cold sync of 10,000 Services, %s)",
			window, p.FailureThreshold, p.PeriodSeconds, startupMargin*coldSync10k, startupMargin, coldSync10k)
	}
	return nil
}

func checkProbes(e dsEnv) error {
	return errors.Join(probeOn(e, "liveness", e.c.LivenessProbe, "/livez"),
		probeOn(e, "readiness", e.c.ReadinessProbe, "/healthz"))
}

func checkResources(e dsEnv) error {
	var errs []error
	mem, cpu := e.c.Resources.Requests[corev1.ResourceMemory], e.c.Resources.Requests[corev1.ResourceCPU]
	if mem.Cmp(*resource.NewQuantity(peakRSS1000, resource.BinarySI)) < 0 {
		errs = append(errs, fmt.Errorf("memory request %s is below the 69 MB peak at 1,000 Services", mem.String()))
	}
	if cpu.IsZero() {
		errs = append(errs, errors.New("no CPU request"))
	}
	if len(e.c.Resources.Limits) > 0 {
		errs = append(errs, fmt.Errorf("limits %v: an OOM kill or throttling mid-sync stalls the node's Services", e.c.Resources.Limits))
	}
	return errors.Join(errs...)
}

func checkServiceAccount(e dsEnv) error {
	sa, err := manifest.One[*corev1.ServiceAccount](e.objs)
	if err != nil {
		return err
	}
	role, err := manifest.One[*rbacv1.ClusterRole](e.objs)
	if err != nil {
		return err
	}
	b, err := manifest.One[*rbacv1.ClusterRoleBinding](e.objs)
	if err != nil {
		return err
	}
	if e.ds.Spec.Template.Spec.ServiceAccountName != sa.Name || sa.Namespace != e.ds.Namespace {
		return fmt.Errorf("the DaemonSet runs as %s/%s, the manifests create ServiceAccount %s/%s",
			e.ds.Namespace, e.ds.Spec.Template.Spec.ServiceAccountName, sa.Namespace, sa.Name)
	}
	want := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != role.Name || !slices.Contains(b.Subjects, want) {
		return fmt.Errorf("ClusterRoleBinding %s binds %v to %s %s, want %v to ClusterRole %s", b.Name, b.Subjects, b.RoleRef.Kind, b.RoleRef.Name, want, role.Name)
	}
	return nil
}

// The take-over flag is for the first start on a node kube-proxy has just
// left; it stays a commented-out, documented line of the DaemonSet.
func checkNoTakeOver(e dsEnv) error {
	for _, a := range e.c.Args {
		if strings.HasPrefix(a, "--take-over") {
			return fmt.Errorf("args %q take over kube-proxy's state at every start", e.c.Args)
		}
	}
	return nil
}

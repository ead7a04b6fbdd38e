//go:build lab

package kube

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/manifest"
)

// saDir is where a pod finds its service account, and where client-go's
// in-cluster configuration reads the token and CA.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

const inClusterNS = "incluster"

// rbacManifests are the objects of manifests/ the in-cluster test uses.
type rbacManifests struct {
	sa      *corev1.ServiceAccount
	role    *rbacv1.ClusterRole
	binding *rbacv1.ClusterRoleBinding
	ds      *appsv1.DaemonSet
	cm      *corev1.ConfigMap
}

// TestInClusterRBAC runs `ipvsd run` as the DaemonSet does: its args, its
// ConfigMap's config file, and in-cluster configuration (a token of the
// manifest's ServiceAccount, bound to exactly the manifest's ClusterRole,
// in the pod's service-account directory, and KUBERNETES_SERVICE_HOST/PORT
// naming the API server), no kubeconfig. It programs a Service and writes
// its Events; with a narrower role it says what is forbidden and loses
// nothing already programmed.
func TestInClusterRBAC(t *testing.T) {
	admin := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	guestutil.EnsureNode(t, admin, nodeName, nodeIP, testNS)
	m := loadRBACManifests(t)
	createRBAC(t, admin, m.sa, m.role, m.binding)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := apiserver.EnsureNamespace(ctx, admin, inClusterNS); err != nil {
		t.Fatal(err)
	}
	web := createService(t, admin, "web", webPort, "10.244.7.2", "10.244.7.3")
	e := &inClusterEnv{admin: admin, m: m, args: daemonSetArgs(t, m), vip: hostPort(web.Spec.ClusterIP, 80)}

	d := startInCluster(t, admin, m.sa, e.args, true)
	e.block = waitVirtualServer(t, d.daemon, e.vip, 2)
	// No kubeconfig and none in the config file: the server can only
	// come from KUBERNETES_SERVICE_HOST/PORT.
	if log := readTrim(t, d.log); !strings.Contains(log, "https://"+apiserver.GuestHostAddr+":") {
		t.Errorf("ipvsd's log does not name the in-cluster API server https://%s:<port>:\n%s", apiserver.GuestHostAddr, tail(log, 30))
	}
	// An out-of-range target port: ipvsd reports it with a Warning Event.
	createService(t, admin, "badport", 70000, "10.244.7.4")
	waitWarningEvent(t, admin, "badport-1", "InvalidPort")
	d.stop(t)
	t.Logf("programmed with the manifest's ClusterRole:\n%s", e.block)

	t.Run("WithoutEventsCreate", e.withoutEventsCreate)
	t.Run("WithoutEndpointSlicesWatch", e.withoutEndpointSlices)
}

// inClusterEnv is what the narrower-role subtests share: the manifests,
// the DaemonSet's args and the Service programmed with the full role.
type inClusterEnv struct {
	admin kubernetes.Interface
	m     rbacManifests
	args  []string
	vip   string // web's ClusterIP:80
	block string // its `ipvsadm -Ln` block as the full role programmed it
}

// withoutEventsCreate: the refused Event is logged with the permission,
// and programming goes on.
func (e *inClusterEnv) withoutEventsCreate(t *testing.T) {
	sa := narrowed(t, e.admin, e.m, "noevents", func(r rbacv1.PolicyRule) rbacv1.PolicyRule {
		if slices.Contains(r.Resources, "events") {
			r.Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == "create" })
		}
		return r
	})
	d := startInCluster(t, e.admin, sa, e.args, true)
	// badport's Event again, from a new process, which the API server
	// now refuses.
	waitLog(t, d.daemon, "the API server forbids ipvsd to create events: grant create and patch on events",
		`cannot create resource \"events\"`, "system:serviceaccount:kube-system:"+sa.Name)
	if got := waitVirtualServer(t, d.daemon, e.vip, 2); got != e.block {
		t.Errorf("%s changed without events create:\n%s\nwas:\n%s", e.vip, got, e.block)
	}
	d.stop(t)
}

// withoutEndpointSlices: ipvsd says what is forbidden, stays unready,
// keeps what is programmed, and carries on once the role is granted.
func (e *inClusterEnv) withoutEndpointSlices(t *testing.T) {
	sa := narrowed(t, e.admin, e.m, "noslices", func(r rbacv1.PolicyRule) rbacv1.PolicyRule {
		if slices.Contains(r.Resources, "endpointslices") {
			r.Verbs = nil
		}
		return r
	})
	d := startInCluster(t, e.admin, sa, e.args, false)
	// ipvsd's own words, with the API server's refusal.
	waitLog(t, d.daemon, "the API server forbids ipvsd to list and watch endpointslices.discovery.k8s.io",
		`cannot list resource \"endpointslices\"`, "system:serviceaccount:kube-system:"+sa.Name)
	d.check(t)
	if body, err := nodeGet(healthzURL); err == nil {
		t.Errorf("/healthz answers 200 without EndpointSlices: %s", body)
	}
	if got := virtualServer(t, "TCP", e.vip); got != e.block {
		t.Errorf("%s changed while ipvsd may not read EndpointSlices:\n%s\nwas:\n%s", e.vip, got, e.block)
	}
	// Granted the manifest's role, the same process carries on.
	grant(t, e.admin, sa, e.m.role)
	guestutil.Eventually(t, 90*time.Second, func() string {
		d.check(t)
		if _, err := nodeGet(healthzURL); err != nil {
			return "ipvsd never became healthy once allowed to read EndpointSlices: " + err.Error()
		}
		return ""
	})
	if got := waitVirtualServer(t, d.daemon, e.vip, 2); got != e.block {
		t.Errorf("%s changed after the grant:\n%s\nwas:\n%s", e.vip, got, e.block)
	}
	d.stop(t)
}

func loadRBACManifests(t *testing.T) rbacManifests {
	t.Helper()
	objs, err := manifest.Load(manifest.GuestDir)
	if err != nil {
		t.Fatal(err)
	}
	var m rbacManifests
	var errs []error
	var e error
	m.sa, e = manifest.One[*corev1.ServiceAccount](objs)
	errs = append(errs, e)
	m.role, e = manifest.One[*rbacv1.ClusterRole](objs)
	errs = append(errs, e)
	m.binding, e = manifest.One[*rbacv1.ClusterRoleBinding](objs)
	errs = append(errs, e)
	m.ds, e = manifest.One[*appsv1.DaemonSet](objs)
	errs = append(errs, e)
	m.cm, e = manifest.One[*corev1.ConfigMap](objs)
	errs = append(errs, e)
	for _, e := range errs {
		if e != nil {
			t.Fatal(e)
		}
	}
	return m
}

// daemonSetArgs writes the ConfigMap's config.yaml where the DaemonSet
// mounts it and returns the container's args as the kubelet passes them
// ($(NODE_NAME) expanded).
func daemonSetArgs(t *testing.T, m rbacManifests) []string {
	t.Helper()
	c := m.ds.Spec.Template.Spec.Containers[0]
	var mount string
	for _, vm := range c.VolumeMounts {
		for _, v := range m.ds.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == m.cm.Name {
				mount = vm.MountPath
			}
		}
	}
	if mount == "" {
		t.Fatalf("the DaemonSet does not mount ConfigMap %s", m.cm.Name)
	}
	for key, data := range m.cm.Data {
		if err := os.MkdirAll(mount, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mount, key), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = strings.ReplaceAll(a, "$(NODE_NAME)", nodeName)
	}
	return args
}

// createRBAC creates a service account, its role and binding.
func createRBAC(t *testing.T, c kubernetes.Interface, sa *corev1.ServiceAccount, role *rbacv1.ClusterRole, b *rbacv1.ClusterRoleBinding) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ServiceAccount %s/%s: %v", sa.Namespace, sa.Name, err)
	}
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterRole %s: %v", role.Name, err)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterRoleBinding %s: %v", b.Name, err)
	}
}

// narrowed creates ServiceAccount, ClusterRole and binding ipvsd-<suffix>:
// the manifest's, with each rule passed through edit (rules left with no
// verb dropped).
func narrowed(t *testing.T, c kubernetes.Interface, m rbacManifests, suffix string, edit func(rbacv1.PolicyRule) rbacv1.PolicyRule) *corev1.ServiceAccount {
	t.Helper()
	name := m.sa.Name + "-" + suffix
	sa := m.sa.DeepCopy()
	sa.Name = name
	role := m.role.DeepCopy()
	role.Name, role.Rules = name, nil
	for _, r := range m.role.Rules {
		if r = edit(*r.DeepCopy()); len(r.Verbs) > 0 {
			role.Rules = append(role.Rules, r)
		}
	}
	if len(role.Rules) == len(m.role.Rules) && slices.EqualFunc(role.Rules, m.role.Rules, func(a, b rbacv1.PolicyRule) bool {
		return slices.Equal(a.Verbs, b.Verbs)
	}) {
		t.Fatalf("ClusterRole %s is not narrower than %s", name, m.role.Name)
	}
	b := m.binding.DeepCopy()
	b.Name, b.RoleRef.Name = name, name
	b.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: sa.Namespace}}
	createRBAC(t, c, sa, role, b)
	return sa
}

// grant binds sa to role as well.
func grant(t *testing.T, c kubernetes.Interface, sa *corev1.ServiceAccount, role *rbacv1.ClusterRole) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: sa.Name + "-granted"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}}}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding %s to %s: %v", sa.Name, role.Name, err)
	}
}

// createService creates a ClusterIP Service name port 80 -> target with
// one EndpointSlice name-1 of ips on another node.
func createService(t *testing.T, c kubernetes.Interface, name string, target int32, ips ...string) *corev1.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := apiserver.CreateService(ctx, c, apiserver.NewService(inClusterNS, name, apiserver.TCPPort("http", 80, webPort)))
	if err != nil {
		t.Fatal(err)
	}
	var eps []apiserver.Endpoint
	for _, ip := range ips {
		eps = append(eps, apiserver.Endpoint{IP: ip, Node: "other"})
	}
	if _, err := apiserver.CreateEndpointSlice(ctx, c, apiserver.NewEndpointSlice(svc, name+"-1", eps, apiserver.SlicePort("http", target))); err != nil {
		t.Fatal(err)
	}
	// Gone after the test, so a later test's daemon removes its virtual
	// server instead of programming it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DiscoveryV1().EndpointSlices(inClusterNS).Delete(ctx, name+"-1", metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting EndpointSlice %s-1: %v", name, err)
		}
		if err := c.CoreV1().Services(inClusterNS).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting Service %s: %v", name, err)
		}
	})
	return svc
}

// writeServiceAccount puts a fresh token of sa, the CA and the namespace
// where a pod's service-account volume has them.
func writeServiceAccount(t *testing.T, c kubernetes.Interface, sa *corev1.ServiceAccount, ca []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ttl := int64(3600)
	tr, err := c.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", sa.Namespace, sa.Name, err)
	}
	if err := os.MkdirAll(saDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(saDir); err != nil {
			t.Error(err)
		}
	})
	for name, data := range map[string][]byte{"token": []byte(tr.Status.Token), "ca.crt": ca, "namespace": []byte(sa.Namespace)} {
		if err := os.WriteFile(filepath.Join(saDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// apiServerEndpoint is the host and port of the API server and its CA, from
// the admin kubeconfig the host shipped.
func apiServerEndpoint(t *testing.T) (host, port string, ca []byte) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", apiserver.GuestAdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port(), cfg.CAData
}

// waitVirtualServer waits until TCP vipPort has dests real servers and
// returns its block of `ipvsadm -Ln`.
func waitVirtualServer(t *testing.T, d *daemon, vipPort string, dests int) string {
	t.Helper()
	var block string
	guestutil.Eventually(t, 90*time.Second, func() string {
		d.check(t)
		block = virtualServer(t, "TCP", vipPort)
		if got := strings.Count(block, "->"); block == "" || got != dests {
			return fmt.Sprintf("TCP %s with %d real servers not programmed:\n%s", vipPort, dests, ipvsadm(t))
		}
		return ""
	})
	return block
}

// waitLog waits until d's log holds every one of want, and shows the
// first line that holds want[0].
func waitLog(t *testing.T, d *daemon, want ...string) {
	t.Helper()
	defer func() {
		for _, l := range strings.Split(readTrim(t, d.log), "\n") {
			if strings.Contains(l, want[0]) {
				t.Logf("ipvsd says: %s", l)
				return
			}
		}
	}()
	guestutil.Eventually(t, 90*time.Second, func() string {
		d.check(t)
		log := readTrim(t, d.log)
		for _, w := range want {
			if !strings.Contains(log, w) {
				return fmt.Sprintf("ipvsd's log does not say %s:\n%s", w, tail(log, 30))
			}
		}
		return ""
	})
}

// waitWarningEvent waits for a Warning Event with reason on the object
// named name in inClusterNS, written by ipvsd.
func waitWarningEvent(t *testing.T, c kubernetes.Interface, name, reason string) {
	t.Helper()
	guestutil.Eventually(t, 60*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs, err := c.CoreV1().Events(inClusterNS).List(ctx, listFor(name))
		if err != nil {
			return err.Error()
		}
		for _, ev := range evs.Items {
			if ev.Type == corev1.EventTypeWarning && ev.Reason == reason && ev.Source.Component == "ipvsd" {
				return ""
			}
		}
		return fmt.Sprintf("no Warning %s Event from ipvsd on %s: %d events", reason, name, len(evs.Items))
	})
}

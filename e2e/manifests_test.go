package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/manifest"
)

// TestManifestsDryRun applies every object of every file in manifests/ to
// the real kube-apiserver of the e2e suite with a server-side dry run, as
// `kubectl create --dry-run=server` and `kubectl apply --server-side
// --dry-run=server` would, with strict field validation (an unknown or
// misspelt field is an error, not a dropped line). Any error or warning
// fails; what the server returned is logged.
func TestManifestsDryRun(t *testing.T) {
	objs := loadManifests(t)
	s := apiserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	warnings := &warningLog{}
	cfg := restConfigFrom(t, s.HostKubeconfig)
	cfg.WarningHandlerWithContext = warnings
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	for _, o := range objs {
		for _, op := range []string{"create", "apply"} {
			got, err := dryRun(ctx, dyn, mapper, o, op)
			w := warnings.take()
			what := fmt.Sprintf("%s %s %s", o.File, o.GVK.Kind, objectName(o.Obj))
			if err != nil {
				t.Errorf("%s: dry-run %s: %v", what, op, err)
				continue
			}
			t.Logf("dry-run %s %s: accepted as %s %s (generation %d, not stored), warnings: %d %q",
				op, what, got.GetKind(), objectName(got), got.GetGeneration(), len(w), w)
			if len(w) > 0 {
				t.Errorf("%s: dry-run %s: the API server warned: %q", what, op, w)
			}
			if got.GetName() != o.Obj.(metav1.Object).GetName() || got.GetKind() != o.GVK.Kind {
				t.Errorf("%s: dry-run %s returned %s %s", what, op, got.GetKind(), got.GetName())
			}
		}
	}
	// The dry run must have stored nothing.
	if _, err := s.Admin.AppsV1().DaemonSets("kube-system").Get(ctx, "ipvsd", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after the dry run, getting DaemonSet kube-system/ipvsd: %v, want not found", err)
	}
}

// dryRun sends o to the server with DryRun All and strict field
// validation: a create, or a server-side apply.
func dryRun(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, o manifest.Object, op string) (*unstructured.Unstructured, error) {
	m, err := mapper.RESTMapping(o.GVK.GroupKind(), o.GVK.Version)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", o.GVK, err)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(o.GVK)
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			return nil, fmt.Errorf("%s %s has no namespace", o.GVK.Kind, u.GetName())
		}
		ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	dry := []string{metav1.DryRunAll}
	if op == "apply" {
		return ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{DryRun: dry, FieldManager: "e2e-manifests"})
	}
	return ri.Create(ctx, u, metav1.CreateOptions{DryRun: dry, FieldValidation: metav1.FieldValidationStrict})
}

// TestManifestsRBACWithinNodeProxier: every rule of ipvsd's ClusterRole
// is covered by the real server's bootstrap ClusterRole
// system:node-proxier, kube-proxy's. Checked twice: by the rule
// comparison the API server's escalation check uses, against the role as
// the server holds it; and by the server itself, which lets an identity
// holding only node-proxier's permissions (system:kube-proxy, plus the
// right to create ClusterRoles) create ipvsd's ClusterRole and refuses a
// wider one.
func TestManifestsRBACWithinNodeProxier(t *testing.T) {
	role, err := manifest.One[*rbacv1.ClusterRole](loadManifests(t))
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	np, err := s.Admin.RbacV1().ClusterRoles().Get(ctx, "system:node-proxier", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("system:node-proxier: %s", rulesString(np.Rules))
	t.Logf("ipvsd: %s", rulesString(role.Rules))
	if ok, missing := rbacvalidation.Covers(np.Rules, role.Rules); !ok {
		t.Errorf("ipvsd's ClusterRole goes beyond system:node-proxier: %s", rulesString(missing))
	}
	wider := widened(role)
	if ok, _ := rbacvalidation.Covers(np.Rules, wider.Rules); ok {
		t.Fatalf("the check cannot fail: system:node-proxier covers %s too", rulesString(wider.Rules))
	}

	grantCreateClusterRoles(ctx, t, s.Admin)
	proxy, err := kubernetes.NewForConfig(restConfigFrom(t, s.HostProxyKubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	// RBAC's cache follows the new binding within moments.
	var createErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, createErr = proxy.RbacV1().ClusterRoles().Create(ctx, role, dry); createErr == nil {
			break
		}
	}
	if createErr != nil {
		t.Errorf("system:kube-proxy (node-proxier's permissions) may not create ipvsd's ClusterRole: %v", createErr)
	}
	if _, err := proxy.RbacV1().ClusterRoles().Create(ctx, wider, dry); !apierrors.IsForbidden(err) {
		t.Errorf("system:kube-proxy creating a ClusterRole wider than node-proxier: %v, want forbidden (escalation)", err)
	} else {
		t.Logf("the server refuses a wider role: %v", err)
	}
}

// widened is role plus one permission node-proxier does not hold.
func widened(role *rbacv1.ClusterRole) *rbacv1.ClusterRole {
	w := role.DeepCopy()
	w.Name = role.Name + "-wider"
	w.Rules = append(w.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
	return w
}

// grantCreateClusterRoles lets system:kube-proxy create ClusterRoles and
// nothing more, so its attempts are judged by escalation prevention alone.
func grantCreateClusterRoles(ctx context.Context, t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	const name = "e2e-create-clusterroles"
	r := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, Verbs: []string{"create"}}}}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:kube-proxy"}}}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func rulesString(rules []rbacv1.PolicyRule) string {
	var parts []string
	for _, r := range rules {
		parts = append(parts, fmt.Sprintf("{groups %q resources %q verbs %q}", r.APIGroups, r.Resources, r.Verbs))
	}
	return strings.Join(parts, " ")
}

func loadManifests(t *testing.T) []manifest.Object {
	t.Helper()
	dir, err := manifest.HostDir()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func restConfigFrom(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func objectName(o any) string {
	m, ok := o.(metav1.Object)
	if !ok {
		return "?"
	}
	if m.GetNamespace() == "" {
		return m.GetName()
	}
	return m.GetNamespace() + "/" + m.GetName()
}

// warningLog keeps the API server's warnings (Warning headers).
type warningLog struct {
	mu  sync.Mutex
	got []string
}

func (w *warningLog) HandleWarningHeaderWithContext(_ context.Context, code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, fmt.Sprintf("%d %s %s", code, agent, text))
}

func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.got
	w.got = nil
	return out
}

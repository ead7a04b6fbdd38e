package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		kinds      []string // of the objects decoded
		err        string   // in the error, or "" for none
	}{
		{"header comments, then objects", "# about\n# this file\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
			[]string{"ServiceAccount", "ConfigMap"}, ""},
		{"comment-only document skipped", "# only words\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n",
			[]string{"ServiceAccount"}, ""},
		{"unknown field", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\nautomount: false\n",
			nil, `x.yaml: document 1: strict decoding error: unknown field "automount"`},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\ndata: {k: w}\n",
			nil, `x.yaml: document 1:`},
		{"second document broken", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Nope\n",
			nil, `x.yaml: document 2:`},
		{"no objects", "# nothing\n", nil, "x.yaml: no objects"},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs, err := Decode("x.yaml", []byte(c.yaml))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GVK.Kind)
			}
			if strings.Join(kinds, ",") != strings.Join(c.kinds, ",") {
				t.Errorf("kinds %v, want %v", kinds, c.kinds)
			}
		})
	}
}

func TestOne(t *testing.T) {
	objs, err := Decode("x.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sa, err := One[*corev1.ServiceAccount](objs); err != nil || sa.Name != "s" {
		t.Errorf("One ServiceAccount: %v, %v", sa, err)
	}
	if _, err := One[*corev1.ConfigMap](objs); err == nil {
		t.Error("One ConfigMap of two: no error")
	}
	if _, err := One[*rbacv1.ClusterRole](objs); err == nil {
		t.Error("One ClusterRole of none: no error")
	}
}

// The repository's manifests decode, every file, and hold what the e2e
// tests look for.
func TestLoadRepository(t *testing.T) {
	dir, err := HostDir()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, o := range objs {
		files[o.File] = true
	}
	for _, f := range []string{"rbac.yaml", "configmap.yaml", "daemonset.yaml"} {
		if !files[f] {
			t.Errorf("no object from %s", f)
		}
	}
	guest, err := GuestFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(guest) != len(files) {
		t.Errorf("GuestFiles ships %d files, the manifests are %d", len(guest), len(files))
	}
}

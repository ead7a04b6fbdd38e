// Package manifest reads the Kubernetes manifests under manifests/ into
// typed objects, for the host test that applies them to the real API
// server and for the lab test that runs ipvsd with their RBAC; both must
// read the files as a user's kubectl would, not a copy of them.
package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// GuestDir is where GuestFiles puts the manifests in the lab VM.
const GuestDir = "/lab/manifests"

// Object is one document of a manifest file.
type Object struct {
	File string // base name of the file it came from
	GVK  schema.GroupVersionKind
	Obj  runtime.Object // typed (*appsv1.DaemonSet, ...)
}

// HostDir is manifests/ in the repository.
func HostDir() (string, error) {
	root, err := lab.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "manifests"), nil
}

// files lists every *.yaml in dir, sorted: a new manifest file is read
// (and so applied and checked) without anyone listing it.
func files(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.yaml manifests in %s", dir)
	}
	sort.Strings(names)
	return names, nil
}

// Load decodes every document of every *.yaml file in dir.
func Load(dir string) ([]Object, error) {
	names, err := files(dir)
	if err != nil {
		return nil, err
	}
	var out []Object
	var errs []error
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs, err := Decode(filepath.Base(name), data)
		errs = append(errs, err)
		out = append(out, objs...)
	}
	return out, errors.Join(errs...)
}

// strict refuses unknown and duplicate fields, which the API server would
// drop with only a warning (or refuse, with strict field validation).
var strict = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// Decode decodes the YAML documents of one file, named file in errors.
func Decode(file string, data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := strict.Decode(doc, nil, nil)
		if err != nil {
			return out, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		out = append(out, Object{File: file, GVK: *gvk, Obj: obj})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no objects", file)
	}
	return out, nil
}

// stripComments drops comment lines, so a document of comments alone
// (a file's header before its first ---) counts as empty.
func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			b.Write(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// One returns the only object of type T among objs.
func One[T runtime.Object](objs []Object) (T, error) {
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	var zero T
	if len(found) != 1 {
		return zero, fmt.Errorf("the manifests hold %d objects of type %T, want 1", len(found), zero)
	}
	return found[0], nil
}

// GuestFiles ships every manifest file to GuestDir for lab.Config.Files.
func GuestFiles() ([]lab.File, error) {
	dir, err := HostDir()
	if err != nil {
		return nil, err
	}
	names, err := files(dir)
	if err != nil {
		return nil, err
	}
	out := make([]lab.File, 0, len(names))
	for _, n := range names {
		out = append(out, lab.File{GuestPath: filepath.Join(GuestDir, filepath.Base(n)), HostPath: n})
	}
	return out, nil
}

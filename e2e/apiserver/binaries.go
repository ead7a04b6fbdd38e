package apiserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// Binaries are the built server programs.
type Binaries struct {
	APIServer string
	Etcd      string
	// KubeProxy is kube-proxy of the same Kubernetes version.
	KubeProxy string
}

var (
	binOnce sync.Once
	bins    Binaries
	binErr  error
)

// CacheDir is where the built binaries are kept: $IPVSD_APISERVER_CACHE or
// .cache/apiserver in the repository.
func CacheDir() (string, error) {
	if d := os.Getenv("IPVSD_APISERVER_CACHE"); d != "" {
		return d, nil
	}
	root, err := lab.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "apiserver"), nil
}

// EnsureBinaries builds kube-apiserver, etcd and kube-proxy, or finds them
// in the cache.
// A cold build takes minutes; `make deps` does it ahead of the tests.
func EnsureBinaries() (Binaries, error) {
	binOnce.Do(func() { bins, binErr = ensureBinaries() })
	return bins, binErr
}

func ensureBinaries() (Binaries, error) {
	root, err := lab.RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	cache, err := CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(root, "e2e", "apiserver", "build.sh"), cache)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Binaries{}, fmt.Errorf("building kube-apiserver, etcd and kube-proxy: %w\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	return Binaries{APIServer: filepath.Join(dir, "kube-apiserver"), Etcd: filepath.Join(dir, "etcd"), KubeProxy: filepath.Join(dir, "kube-proxy")}, nil
}

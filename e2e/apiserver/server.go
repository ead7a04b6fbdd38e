package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// GuestHostAddr is the host's loopback as a lab guest on qemu's user
// network sees it.
const GuestHostAddr = "10.0.2.2"

// ServiceCIDR and ServiceCIDR6 are --service-cluster-ip-range, IPv4 first:
// 10.96.0.1 is the `kubernetes` Service, and Services are IPv4 unless they
// ask for dual-stack (ipFamilyPolicy), which needs both ranges.
const (
	ServiceCIDR  = "10.96.0.0/16"
	ServiceCIDR6 = "fd00:96::/108"
)

// stopGrace is how long a server gets to exit after SIGTERM.
const stopGrace = 5 * time.Second

// Server is a running etcd and kube-apiserver for one test.
type Server struct {
	// Dir holds the data, keys, logs and kubeconfigs.
	Dir string
	// Port is kube-apiserver's secure port on 127.0.0.1 (and so on
	// 10.0.2.2 for the guest).
	Port int
	// URL is https://127.0.0.1:Port.
	URL string
	// Admin is a client with cluster-admin rights (group system:masters).
	Admin kubernetes.Interface
	// HostKubeconfig and HostProxyKubeconfig are kubeconfig files for
	// clients on the host: the admin and kube-proxy's identity.
	HostKubeconfig, HostProxyKubeconfig string

	pki      *pki
	bins     Binaries
	etcdURL  string
	etcd     *proc
	mu       sync.Mutex
	api      *proc
	apiStart time.Duration
}

// Start builds (or finds) the binaries, starts etcd and kube-apiserver on
// free loopback ports, waits until /readyz answers 200 and stops both in
// t.Cleanup. Their logs are in Dir and shown when the test fails.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir())
	if s != nil {
		t.Cleanup(func() {
			if t.Failed() {
				s.dumpLogs(t)
			}
			if err := s.stop(); err != nil {
				t.Errorf("stopping the API server: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apiserver: %s ready in %s (data in %s)", s.URL, s.apiStart.Round(time.Millisecond), s.Dir)
	return s
}

func start(dir string) (*Server, error) {
	bins, err := EnsureBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bins: bins}
	if s.pki, err = newPKI(dir); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	s.Port = ports[2]
	s.URL = "https://127.0.0.1:" + strconv.Itoa(s.Port)
	s.etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	// The peer URL is set too: etcd's default, 2380, would collide with
	// another test's etcd.
	s.etcd, err = startProc(filepath.Join(dir, "etcd.log"), bins.Etcd,
		"--name=e2e", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+s.etcdURL, "--advertise-client-urls="+s.etcdURL,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=e2e="+peer, "--log-level=warn")
	if err != nil {
		return s, err
	}
	if err := waitHTTP(s.etcd, 30*time.Second, func() error { return getOK(http.DefaultClient, s.etcdURL+"/health", "") }); err != nil {
		return s, fmt.Errorf("etcd never became healthy: %w", err)
	}
	if err := s.StartAPIServer(); err != nil {
		return s, err
	}
	if s.HostKubeconfig, err = s.WriteKubeconfig("admin.kubeconfig", "127.0.0.1", s.pki.AdminToken); err != nil {
		return s, err
	}
	if s.HostProxyKubeconfig, err = s.WriteKubeconfig("proxy.kubeconfig", "127.0.0.1", s.pki.ProxyToken); err != nil {
		return s, err
	}
	cfg := s.restConfig("127.0.0.1", s.pki.AdminToken)
	if s.Admin, err = kubernetes.NewForConfig(cfg); err != nil {
		return s, fmt.Errorf("admin client: %w", err)
	}
	return s, nil
}

// StartAPIServer starts kube-apiserver (again, after StopAPIServer) on the
// same port and etcd, and waits for /readyz.
func (s *Server) StartAPIServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api != nil {
		return errors.New("kube-apiserver is already running")
	}
	p := s.pki
	begin := time.Now()
	api, err := startProc(filepath.Join(s.Dir, "kube-apiserver.log"), s.bins.APIServer,
		"--etcd-servers="+s.etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(s.Port),
		// The `kubernetes` Service's endpoint is what the guest can
		// reach, so 10.96.0.1:443 programmed by ipvsd leads back here.
		"--advertise-address="+GuestHostAddr,
		"--service-cluster-ip-range="+ServiceCIDR+","+ServiceCIDR6,
		"--tls-cert-file="+p.CertFile, "--tls-private-key-file="+p.KeyFile,
		"--client-ca-file="+p.CAFile,
		"--service-account-key-file="+p.SAKeyFile,
		"--service-account-signing-key-file="+p.SAKeyFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file="+p.TokenFile,
		"--authorization-mode=RBAC",
		// As every kubeadm cluster: kube-proxy's DaemonSet, and ipvsd's
		// (manifests/), run privileged containers.
		"--allow-privileged=true",
		"--profiling=false", "--v=0")
	if err != nil {
		return err
	}
	client := s.httpClient()
	if err := waitHTTP(api, 60*time.Second, func() error { return getOK(client, s.URL+"/readyz", p.AdminToken) }); err != nil {
		if stopErr := api.stop(stopGrace); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return fmt.Errorf("kube-apiserver never became ready: %w", err)
	}
	s.api = api
	s.apiStart = time.Since(begin)
	return nil
}

// StopAPIServer stops kube-apiserver (SIGTERM, SIGKILL after stopGrace)
// and leaves etcd running, so a later StartAPIServer finds every object
// again: an API server restart.
func (s *Server) StopAPIServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api == nil {
		return nil
	}
	err := s.api.stop(stopGrace)
	s.api = nil
	if err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	return nil
}

// AdminToken is the bearer token of the cluster admin.
func (s *Server) AdminToken() string { return s.pki.AdminToken }

// ProxyToken is the bearer token of user system:kube-proxy, which the
// default RBAC policy gives kube-proxy's permissions and no more.
func (s *Server) ProxyToken() string { return s.pki.ProxyToken }

// CAPEM is the CA certificate the serving certificate chains to.
func (s *Server) CAPEM() []byte { return s.pki.CAPEM }

func (s *Server) restConfig(host, token string) *rest.Config {
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, strconv.Itoa(s.Port)),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.pki.CAPEM},
		Timeout:         30 * time.Second,
	}
}

func (s *Server) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.pki.CAPEM)
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

func (s *Server) stop() error {
	var errs []error
	if err := s.StopAPIServer(); err != nil {
		errs = append(errs, err)
	}
	if s.etcd != nil {
		if err := s.etcd.stop(stopGrace); err != nil {
			errs = append(errs, fmt.Errorf("stopping etcd: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) dumpLogs(t testing.TB) {
	for _, name := range []string{"etcd.log", "kube-apiserver.log"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		if len(b) > 8000 {
			b = append([]byte("...\n"), b[len(b)-8000:]...)
		}
		t.Logf("%s (tail):\n%s", name, b)
	}
}

// getOK is one GET that must answer 200.
func getOK(c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// waitHTTP polls check until it succeeds, the process exits or timeout.
func waitHTTP(p *proc, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready; see %s", filepath.Base(p.cmd.Path), p.waitErr, p.log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePorts asks the kernel for n distinct free loopback ports. They are
// released before the servers bind them, a window in which another
// process could take one; the servers then fail to start, loudly.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

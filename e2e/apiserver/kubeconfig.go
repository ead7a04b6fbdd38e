package apiserver

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

// Where GuestFiles puts the kubeconfigs in the lab VM. Both point at
// https://10.0.2.2:<port>, the host's loopback as the guest sees it.
const (
	// GuestAdminKubeconfig is the cluster admin's: guest tests create and
	// change Services and EndpointSlices with it.
	GuestAdminKubeconfig = "/lab/kube/admin.kubeconfig"
	// GuestProxyKubeconfig is user system:kube-proxy's: what `ipvsd run`
	// gets, so it runs with kube-proxy's RBAC permissions and no more.
	GuestProxyKubeconfig = "/lab/kube/proxy.kubeconfig"
)

// Kubeconfig renders a kubeconfig for a client reaching the server at host
// (127.0.0.1 on the host, GuestHostAddr in the VM) with a bearer token.
func (s *Server) Kubeconfig(host, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{
		Server:                   "https://" + net.JoinHostPort(host, strconv.Itoa(s.Port)),
		CertificateAuthorityData: s.pki.CAPEM,
	}
	cfg.AuthInfos["e2e"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e"}
	cfg.CurrentContext = "e2e"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding a kubeconfig: %w", err)
	}
	return b, nil
}

// WriteKubeconfig writes Kubeconfig(host, token) as name in Dir and returns
// its path.
func (s *Server) WriteKubeconfig(name, host, token string) (string, error) {
	b, err := s.Kubeconfig(host, token)
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.Dir, name)
	if err := writeFile(path, b); err != nil {
		return "", err
	}
	return path, nil
}

// GuestFiles are the kubeconfigs for lab.Config.Files.
func (s *Server) GuestFiles() ([]lab.File, error) {
	admin, err := s.Kubeconfig(GuestHostAddr, s.pki.AdminToken)
	if err != nil {
		return nil, err
	}
	proxy, err := s.Kubeconfig(GuestHostAddr, s.pki.ProxyToken)
	if err != nil {
		return nil, err
	}
	return []lab.File{
		{GuestPath: GuestAdminKubeconfig, Data: admin, Mode: 0o600},
		{GuestPath: GuestProxyKubeconfig, Data: proxy, Mode: 0o600},
	}, nil
}

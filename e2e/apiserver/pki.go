package apiserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the key material one test cluster needs, written under dir.
type pki struct {
	CAPEM      []byte
	CAFile     string
	CertFile   string // kube-apiserver's serving certificate
	KeyFile    string
	SAKeyFile  string // service-account signing key (private; its public half is derived)
	TokenFile  string // static bearer tokens
	AdminToken string
	ProxyToken string
}

// servingIPs are every address a client may use for the API server: the
// host's loopback, qemu user networking's alias for it as seen from the
// guest, and the `kubernetes` Service's ClusterIP (the first address of
// --service-cluster-ip-range), which ipvsd itself programs in the guest.
var servingIPs = []net.IP{
	net.ParseIP("127.0.0.1"),
	net.ParseIP(GuestHostAddr),
	net.ParseIP("10.96.0.1"),
}

// Users of the static token file. The proxy user is kube-proxy's own
// identity: the default RBAC policy binds it to system:node-proxier, so
// ipvsd runs with exactly the permissions kube-proxy is given.
const (
	adminUser = "e2e-admin"
	proxyUser = "system:kube-proxy"
)

func newPKI(dir string) (*pki, error) {
	p := &pki{
		CAFile:    filepath.Join(dir, "ca.crt"),
		CertFile:  filepath.Join(dir, "apiserver.crt"),
		KeyFile:   filepath.Join(dir, "apiserver.key"),
		SAKeyFile: filepath.Join(dir, "sa.key"),
		TokenFile: filepath.Join(dir, "tokens.csv"),
	}
	caKey, caCert, caDER, err := newCA()
	if err != nil {
		return nil, err
	}
	p.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	key, der, err := newServingCert(caKey, caCert)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the service-account key: %w", err)
	}
	p.AdminToken, err = randomToken()
	if err != nil {
		return nil, err
	}
	p.ProxyToken, err = randomToken()
	if err != nil {
		return nil, err
	}
	// tokens.csv: token,user,uid,"group,..."
	tokens := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n%s,%s,%s\n",
		p.AdminToken, adminUser, adminUser, p.ProxyToken, proxyUser, proxyUser)

	keyPEM, err := ecKeyPEM(key)
	if err != nil {
		return nil, err
	}
	saPEM, err := ecKeyPEM(saKey)
	if err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{
		p.CAFile:    p.CAPEM,
		p.CertFile:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		p.KeyFile:   keyPEM,
		p.SAKeyFile: saPEM,
		p.TokenFile: []byte(tokens),
	} {
		if err := writeFile(path, data); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// newCA makes the self-signed CA of one test run.
func newCA() (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating the CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ipvsd-e2e-ca"},
		NotBefore:             now.Add(-time.Hour), // tolerate a guest clock slightly behind
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parsing the CA certificate: %w", err)
	}
	return caKey, caCert, caDER, nil
}

// newServingCert makes the API server's key and certificate, signed by the CA.
func newServingCert(caKey *ecdsa.PrivateKey, caCert *x509.Certificate) (*ecdsa.PrivateKey, []byte, error) {
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  servingIPs,
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the serving certificate: %w", err)
	}
	return key, der, nil
}

func ecKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a token: %w", err)
	}
	return fmt.Sprintf("%x", b), nil
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

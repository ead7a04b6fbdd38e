package guestutil

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// ForwardAPI makes the API server reachable from ns, which has no route
// out: a forwarder listens on the namespace's 127.0.0.1 (a name in the
// serving certificate) at the API server's port and relays each
// connection from the caller's namespace. Nothing is added to the
// namespace's routes or netfilter, so a proxy run there programs a node
// that holds only what its test put in it. It returns a copy of the
// kube-proxy kubeconfig pointing there; the forwarder stops in t.Cleanup.
func ForwardAPI(t testing.TB, ns *nettest.NS) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(apiserver.GuestProxyKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var target string
	for _, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			t.Fatal(err)
		}
		target = u.Host
		c.Server = "https://" + net.JoinHostPort("127.0.0.1", u.Port())
	}
	if target == "" {
		t.Fatalf("%s names no cluster", apiserver.GuestProxyKubeconfig)
	}
	_, port, _ := net.SplitHostPort(target)
	l := ns.Listen(t, "tcp", net.JoinHostPort("127.0.0.1", port))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed in t.Cleanup
			}
			wg.Add(1)
			go func() { defer wg.Done(); relay(c, target) }()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	path := filepath.Join(t.TempDir(), ns.Name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// relay copies c to and from a new connection to target until either
// side closes. The dial runs on an unswitched thread: the caller's
// namespace.
func relay(c net.Conn, target string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		// An error (a reset, the other copy closing) ends the relay as
		// EOF does; the client sees its connection close.
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done // one side ended: close both, which ends the other copy
	c.Close()
	up.Close()
	<-done
}

package healthcheck

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/source/kube"
)

func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func get(t *testing.T, port uint16) (int, Response, http.Header) {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(int(port)) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp.StatusCode, r, resp.Header
}

func TestServers(t *testing.T) {
	s := New(zaptest.NewLogger(t), "127.0.0.1")
	t.Cleanup(s.Close)
	port := freePort(t)
	if err := s.Update(map[uint16]kube.HealthCheckTarget{port: {Service: "ns/web", LocalEndpoints: 2}}); err != nil {
		t.Fatal(err)
	}
	code, r, h := get(t, port)
	want := Response{LocalEndpoints: 2, ServiceProxyHealthy: true}
	want.Service.Namespace, want.Service.Name = "ns", "web"
	if code != 200 || !cmp.Equal(want, r) || h.Get("X-Load-Balancing-Endpoint-Weight") != "2" || h.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %+v %v", code, r, h)
	}

	if err := s.Update(map[uint16]kube.HealthCheckTarget{port: {Service: "ns/web"}}); err != nil {
		t.Fatal(err)
	}
	code, r, _ = get(t, port)
	want.LocalEndpoints = 0
	if code != http.StatusServiceUnavailable || !cmp.Equal(want, r) {
		t.Errorf("without local endpoints: got %d %+v", code, r)
	}

	if err := s.Update(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(int(port))); err == nil {
		t.Error("port still served after its service went")
	}
}

package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/source/kube"
)

// Response is the JSON body of a health-check answer.
type Response struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints      int  `json:"localEndpoints"`
	ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
}

// Servers runs one HTTP server per health-check node port.
type Servers struct {
	log     *zap.Logger
	host    string // listen address without port ("" for all)
	mu      sync.Mutex
	servers map[uint16]*server
}

type server struct {
	srv    *http.Server
	mu     sync.Mutex
	target kube.HealthCheckTarget
}

// New returns Servers listening on host (empty: every address).
func New(log *zap.Logger, host string) *Servers {
	return &Servers{log: log, host: host, servers: map[uint16]*server{}}
}

// Update makes the served ports and their answers match targets: new
// ports are opened, gone ones closed, the others answer with the new
// counts at once. A port that cannot be opened (another process holds it)
// is reported and retried on the next Update.
func (s *Servers) Update(targets map[uint16]kube.HealthCheckTarget) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for port, srv := range s.servers {
		if _, ok := targets[port]; !ok {
			srv.close()
			delete(s.servers, port)
		}
	}
	for port, t := range targets {
		if srv, ok := s.servers[port]; ok {
			srv.mu.Lock()
			srv.target = t
			srv.mu.Unlock()
			continue
		}
		srv, err := s.listen(port, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("health-check port %d of %s: %w", port, t.Service, err))
			continue
		}
		s.servers[port] = srv
	}
	return errors.Join(errs...)
}

// Close stops every server.
func (s *Servers) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for port, srv := range s.servers {
		srv.close()
		delete(s.servers, port)
	}
}

func (s *Servers) listen(port uint16, t kube.HealthCheckTarget) (*server, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(int(port))))
	if err != nil {
		return nil, err
	}
	srv := &server{target: t}
	srv.srv = &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("health-check server stopped", zap.Uint16("port", port), zap.Error(err))
		}
	}()
	s.log.Info("serving health checks", zap.Uint16("port", port), zap.String("service", t.Service))
	return srv, nil
}

func (srv *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.srv.Shutdown(ctx) // closing is best effort: the port is gone either way
}

// ServeHTTP answers any path, as load balancers probe different ones.
func (srv *server) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	srv.mu.Lock()
	t := srv.target
	srv.mu.Unlock()
	var r Response
	r.Service.Namespace, r.Service.Name, _ = strings.Cut(t.Service, "/")
	r.LocalEndpoints = t.LocalEndpoints
	r.ServiceProxyHealthy = true
	body, _ := json.MarshalIndent(r, "", "\t") // a plain struct always encodes
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Lets weighted load balancers spread by endpoint count.
	w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(t.LocalEndpoints))
	if t.LocalEndpoints == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}
